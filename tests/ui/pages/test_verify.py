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


def test_without_an_nvidia_gpu_the_page_explains_instead_of_offering_a_run(monkeypatch):
    monkeypatch.setenv("VRAM_PLANNER_ALLOW_RUNS", "1")
    at = _run()
    assert not at.exception
    assert not at.button or all(b.label != "Run the verifier suite" for b in at.button)
    assert any("CUDA GPU" in i.value for i in at.info)


def test_an_unknown_run_in_the_link_falls_back_to_the_newest():
    at = _run({"verify_run": "1999-01-01_a-gpu"})
    assert not at.exception
    assert at.selectbox(key="verify_run").value == sorted({r.folder for r in load_runs()})[-1]


def _gpu_machine(monkeypatch, tmp_path):
    """A CUDA machine with the verifier's packages, as far as the page can tell (and a private lock file)."""
    from types import SimpleNamespace

    import planner.hardware
    from ui import verify_runner

    gpu = SimpleNamespace(name="NVIDIA H100 80GB HBM3", index=0)
    monkeypatch.setattr(
        planner.hardware, "read_live_gpus", lambda: SimpleNamespace(available=True, gpus=[gpu])
    )
    monkeypatch.setattr(verify_runner, "missing_packages", list)
    monkeypatch.setattr(verify_runner, "LOCK_FILE", tmp_path / "verify.lock")


def test_read_only_by_default_even_on_a_gpu_machine(monkeypatch, tmp_path):
    _gpu_machine(monkeypatch, tmp_path)
    monkeypatch.delenv("VRAM_PLANNER_ALLOW_RUNS", raising=False)
    at = _run()
    assert not at.exception
    assert all(b.label != "Run the verifier suite" for b in at.button)
    assert any("Read-only mode" in i.value and "VRAM_PLANNER_ALLOW_RUNS=1" in i.value for i in at.info)
    monkeypatch.setenv("VRAM_PLANNER_ALLOW_RUNS", "no")
    assert all(b.label != "Run the verifier suite" for b in _run().button)


def test_one_run_at_a_time(monkeypatch, tmp_path):
    import sys

    from ui import verify_runner

    _gpu_machine(monkeypatch, tmp_path)
    monkeypatch.setenv("VRAM_PLANNER_ALLOW_RUNS", "1")
    started = tmp_path / "started"
    monkeypatch.setattr(
        verify_runner,
        "suite_command",
        lambda suite, out: [sys.executable, "-c", f"open({str(started)!r}, 'w')"],
    )
    at = _run()
    button = next(b for b in at.button if b.label == "Run the verifier suite")
    with verify_runner.run_slot(verify_runner.LOCK_FILE) as mine:  # another session's run is going
        assert mine
        at = button.click().run()
    assert not at.exception
    assert any("already going" in w.value for w in at.warning)
    assert not started.exists()


def test_on_a_gpu_machine_the_button_runs_the_suite_with_progress(monkeypatch, tmp_path):
    import sys

    from ui import verify_runner

    _gpu_machine(monkeypatch, tmp_path)
    monkeypatch.setenv("VRAM_PLANNER_ALLOW_RUNS", "1")
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
