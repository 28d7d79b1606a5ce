"""Verify page: the stored GPU records against today's planner; no GPU here, so an explanation, no button."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from planner.measurements import load_runs

APP = str(Path(__file__).resolve().parents[3] / "app.py")


def _run(query=None):
    at = AppTest.from_file(APP, default_timeout=90)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    at.switch_page("ui/pages/verify.py")
    return at.run()


def test_accuracy_and_every_configuration_are_shown():
    at = _run()
    assert not at.exception
    assert at.title[0].value == "Verify"
    accuracy, configurations = at.dataframe[0].value, at.dataframe[1].value
    assert "Weights" in set(accuracy["component"])
    folder = sorted({r.folder for r in load_runs()})[-1]
    measured = [r for r in load_runs() if r.folder == folder and r.measured]
    assert set(configurations["run"]) == {r.id for r in measured}
    held = configurations[configurations["half"] == "held out"]
    assert len(held) > 0 and (held["Weights: error %"].abs() < 1).all()


def test_without_an_nvidia_gpu_the_page_explains_instead_of_offering_a_run():
    at = _run()
    assert not at.exception
    assert not at.button or all(b.label != "Run the verifier suite" for b in at.button)
    assert any("CUDA GPU" in i.value for i in at.info)


def test_an_unknown_run_in_the_link_falls_back_to_the_newest():
    at = _run({"verify_run": "1999-01-01_a-gpu"})
    assert not at.exception
    assert at.selectbox(key="verify_run").value == sorted({r.folder for r in load_runs()})[-1]
