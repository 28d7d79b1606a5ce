"""The Verify page's suite runner: progress from the suite's lines, and the suite stopped with the page."""

import os
import subprocess
import sys
import time

import pytest

from ui import verify_runner
from ui.verify_runner import Progress, parse_progress


def test_progress_lines_are_read_and_other_output_ignored():
    assert parse_progress("[3/24   75s] llama3.1-8b-bf16-4k-b1: ok\n") == Progress(
        3, 24, "llama3.1-8b-bf16-4k-b1", "ok"
    )
    assert parse_progress("[24/24  404s] qwen2.5-32b-bf16-32k-b4-oom: oom (CUDA out of memory)") == Progress(
        24, 24, "qwen2.5-32b-bf16-32k-b4-oom", "oom"
    )
    assert parse_progress("== installing 4 wheel(s)") is None


def test_run_reports_each_configuration_and_the_exit_status():
    script = (
        "import sys; [print(f'[{i}/3  {i}s] run-{i}: ok', file=sys.stderr) for i in (1, 2, 3)]; sys.exit(0)"
    )
    seen = []
    code, lines = verify_runner.run([sys.executable, "-c", script], seen.append)
    assert code == 0 and len(lines) == 3
    assert [p.done for p in seen] == [1, 2, 3] and seen[-1].total == 3


def test_a_stopped_page_stops_the_suite(tmp_path):
    pid_file = tmp_path / "pid"
    script = (
        "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); "
        "print('[1/2  1s] a: ok', file=sys.stderr, flush=True); time.sleep(60)"
    )

    def stop(_progress):
        raise KeyboardInterrupt  # what Streamlit's StopException does to the page's script

    with pytest.raises(KeyboardInterrupt):
        verify_runner.run([sys.executable, "-c", script, str(pid_file)], stop, grace_s=5)
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the suite process is still running")


def test_missing_packages_are_named_without_importing_them(monkeypatch):
    monkeypatch.setattr(verify_runner, "PACKAGES", ("json", "no_such_package_here"))
    assert verify_runner.missing_packages() == ["no_such_package_here"]


@pytest.mark.parametrize(
    ("value", "allowed"), [(None, False), ("", False), ("0", False), ("1", True), ("on", True)]
)
def test_runs_are_off_unless_the_operator_turns_them_on(monkeypatch, value, allowed):
    if value is None:
        monkeypatch.delenv(verify_runner.ALLOW_RUNS_ENV, raising=False)
    else:
        monkeypatch.setenv(verify_runner.ALLOW_RUNS_ENV, value)
    assert verify_runner.runs_allowed() is allowed


def test_one_run_slot_per_machine(tmp_path):
    lock = tmp_path / "verify.lock"
    with verify_runner.run_slot(lock) as first:
        assert first
        with verify_runner.run_slot(lock) as second:  # another session of this process
            assert not second
    # Another process holding the lock (flock) keeps this one out; its death frees the slot.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; f = open(sys.argv[1], 'a+b'); fcntl.flock(f, fcntl.LOCK_EX); "
            "print('held', flush=True); time.sleep(60)",
            str(lock),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with verify_runner.run_slot(lock) as taken:
            assert not taken
    finally:
        holder.kill()
        holder.wait()
    with verify_runner.run_slot(lock) as free:
        assert free
