"""Calibration: the split by model, the robust fit, and that the shipped constants came from it."""

import json

import pytest

from planner.calibration import (
    FITTED,
    README_END,
    README_FILE,
    README_START,
    _round,
    accuracy_markdown,
    fit,
    split_by_model,
    theil_sen,
)
from planner.engines.constants import constant
from planner.measurements import MEASUREMENTS_DIR, load_runs

CALIBRATIONS = sorted(MEASUREMENTS_DIR.glob("*/calibration.json"))


def test_theil_sen_recovers_a_line_and_ignores_one_outlier():
    xs = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    ys = [2 * x + 10 for x in xs]
    assert theil_sen(xs, ys) == pytest.approx((2.0, 10.0))
    ys[2] = 1000.0  # one wild run moves neither the slope nor the intercept much
    slope, intercept = theil_sen(xs, ys)
    assert slope == pytest.approx(2.0, abs=0.5) and intercept == pytest.approx(10.0, abs=3)
    with pytest.raises(ValueError):
        theil_sen([1.0, 1.0], [2.0, 3.0])


def test_split_keeps_each_model_on_one_side():
    runs = load_runs()
    fit_half, held_out = split_by_model(runs)
    assert fit_half and held_out
    assert not {r.model for r in fit_half} & {r.model for r in held_out}
    ok = {r.id for r in runs if r.status == "ok"}
    assert {r.id for r in fit_half} | {r.id for r in held_out} == ok
    assert abs(len({r.model for r in fit_half}) - len({r.model for r in held_out})) <= 1


@pytest.mark.parametrize("path", CALIBRATIONS, ids=[p.parent.name for p in CALIBRATIONS])
def test_shipped_constants_are_the_fit_of_the_stored_records(path):
    record = json.loads(path.read_text(encoding="utf-8"))
    runs = [r for r in load_runs() if r.folder == path.parent.name]
    fit_half, held_out = split_by_model(runs)
    assert [r.id for r in fit_half] == record["fit_runs"]
    assert [r.id for r in held_out] == record["held_out_runs"]
    fitted = fit(fit_half)
    assert set(fitted) == set(FITTED)
    for name, c in fitted.items():
        assert _round(name, c.value) == pytest.approx(constant(name).value), name
        assert record["constants"][name]["value"] == pytest.approx(constant(name).value), name
        assert constant(name).low <= constant(name).value <= constant(name).high


def test_readme_accuracy_section_is_generated_from_the_calibration():
    """Regenerate with `python -m planner.calibration --readme`."""
    record = json.loads(CALIBRATIONS[-1].read_text(encoding="utf-8"))
    text = README_FILE.read_text(encoding="utf-8")
    section = text.split(README_START, 1)[1].split(README_END, 1)[0].strip()
    assert section == accuracy_markdown(record)


def test_the_command_line_refuses_a_folder_with_too_few_runs(capsys):
    from planner.calibration import main

    assert main(["no-such-folder"]) == 2
    assert "calibration:" in capsys.readouterr().err
