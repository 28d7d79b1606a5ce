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


def test_on_a_gpu_machine_the_button_runs_the_suite_with_progress(monkeypatch, tmp_path):
    import sys
    from types import SimpleNamespace

    import planner.hardware
    from ui import verify_runner

    gpu = SimpleNamespace(name="NVIDIA H100 80GB HBM3", index=0)
    monkeypatch.setattr(
        planner.hardware, "read_live_gpus", lambda: SimpleNamespace(available=True, gpus=[gpu])
    )
    monkeypatch.setattr(verify_runner, "missing_packages", list)
    script = (
        "import sys, pathlib; out = pathlib.Path(sys.argv[1]); "
        "[print(f'[{i}/2  {i}s] run-{i}: ok', file=sys.stderr) for i in (1, 2)]; "
        "(out / 'summary.md').write_text('# Suite fake\\n')"
    )
    monkeypatch.setattr(
        verify_runner, "suite_command", lambda suite, out: [sys.executable, "-c", script, str(out)]
    )
    at = _run()
    button = next(b for b in at.button if b.label == "Run the verifier suite")
    at = button.click().run()
    assert not at.exception
    assert any("Records in" in s.value for s in at.success)
    assert any("Suite fake" in m.value for m in at.markdown)
