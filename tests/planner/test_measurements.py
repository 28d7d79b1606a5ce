"""The stored GPU records against the current planner: loading, derived components, accuracy."""

import json

import pytest

from planner.calibration import STATED
from planner.errors import PlannerError
from planner.measurements import (
    MEASUREMENTS_DIR,
    accuracy,
    compare_runs,
    derived_measurements,
    load_runs,
)

MIB = 1 << 20
CALIBRATIONS = sorted(MEASUREMENTS_DIR.glob("*/calibration.json"))


def test_records_load_with_their_gpu_and_versions():
    runs = load_runs()
    assert len(runs) >= 20
    assert all(r.gpu and r.date and r.packages.get("transformers") for r in runs)
    assert {r.status for r in runs} <= {"ok", "oom", "error", "skipped"}


def test_derived_components_follow_the_protocol():
    m = derived_measurements(
        {"weights": 100, "kv_cache": 20, "peak_allocated": 150, "reserved": 170, "process_total": 900}
    )
    assert (m["activations"], m["allocator_slack"], m["non_torch"], m["overhead"]) == (30, 20, 730, 750)
    assert "activations" not in derived_measurements({"weights": 1})


def test_a_record_that_is_not_one_is_refused(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "00_x.json").write_text(json.dumps({"config": {}}), encoding="utf-8")
    with pytest.raises(PlannerError, match="not a measurement record"):
        load_runs(tmp_path)


def test_weights_and_kv_cache_are_exact_on_the_gpu():
    """Weights within 1 % on every run (what transformers adds beyond the tensors: padding,
    non-persistent buffers); the KV cache byte for byte."""
    for c in compare_runs(load_runs()):
        if "weights" in c.error:
            assert abs(c.error["weights"]["rel"]) < 0.01, c.run.id
        if c.run.status == "ok":
            assert c.error["kv_cache"]["abs"] == 0, c.run.id


def test_out_of_memory_runs_were_predicted_not_to_fit():
    oom = [c for c in compare_runs(load_runs()) if c.run.status == "oom"]
    assert oom
    assert all(c.predicted_fits is False for c in oom)


@pytest.mark.parametrize("path", CALIBRATIONS, ids=[p.parent.name for p in CALIBRATIONS])
def test_every_record_stays_within_the_stated_error(path):
    """A later change that loses accuracy on the measured runs fails here."""
    stated = json.loads(path.read_text(encoding="utf-8"))["stated_error"]
    assert set(stated) == set(STATED)
    runs = [r for r in load_runs() if r.folder == path.parent.name]
    for row in accuracy(compare_runs(runs), STATED):
        assert abs(row.worst_rel) <= stated[row.component], (row.component, row.worst_id, row.worst_rel)
