"""Run ``python -m verify suite`` from the Verify page: progress from its log lines, and no orphans.

The page never imports torch; it checks the verifier's packages are installed (``find_spec`` reads
no module) and starts the suite as a subprocess leading its own process group. If the page
stops (the user leaves it, the session ends), :func:`run` terminates the suite, which kills the
configuration it is running (``verify/suite.py`` handles SIGTERM), so no process keeps GPU memory.

A hosted page is read-only: runs are off unless the operator sets ``VRAM_PLANNER_ALLOW_RUNS=1``
(:func:`runs_allowed`; Streamlit Community Cloud and Hugging Face Spaces expose their secrets and
variables as environment variables), and :func:`run_slot` lets one suite run at a time on the machine.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

try:  # POSIX: a lock the kernel drops when the holder dies, shared by every process of the machine
    import fcntl
except ImportError:  # pragma: no cover - Windows: the in-process lock alone
    fcntl = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "verify" / "suites" / "h100.json"
#: What the verifier imports on a GPU machine (requirements-verify.txt plus torch and transformers).
PACKAGES = ("torch", "transformers", "accelerate", "bitsandbytes")
#: ``[3/24   75s] llama3.1-8b-bf16-4k-b1: ok`` (verify/suite.py's per-run line on stderr).
_LINE = re.compile(r"^\[(\d+)/(\d+)\s+\d+s\] (\S+): ([\w-]+)")
#: The operator's switch: GPU runs from the page only when this is set to 1/true/yes/on.
ALLOW_RUNS_ENV = "VRAM_PLANNER_ALLOW_RUNS"
#: One run at a time per machine: every app process on it takes this file's lock.
LOCK_FILE = Path(tempfile.gettempdir()) / "vram-planner-verify.lock"
_IN_PROCESS = threading.Lock()


def runs_allowed() -> bool:
    """Whether the operator turned GPU runs on (read-only by default: a hosted page starts none)."""
    return os.environ.get(ALLOW_RUNS_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


@contextmanager
def run_slot(lock_file: Path = LOCK_FILE) -> Iterator[bool]:
    """Hold the machine's one run slot for the ``with`` block; yields False (at once) when it is taken.

    Two locks: a thread lock for the sessions of this app process, and ``flock`` on ``lock_file`` for
    other processes (released by the kernel if the holder dies, so a crash never leaves it taken).
    """
    if not _IN_PROCESS.acquire(blocking=False):
        yield False
        return
    try:
        if fcntl is None:
            yield True
            return
        with lock_file.open("a+b") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    finally:
        _IN_PROCESS.release()


@dataclass(frozen=True, slots=True)
class Progress:
    """One finished configuration of a running suite."""

    done: int
    total: int
    run_id: str
    status: str


def parse_progress(line: str) -> Progress | None:
    """The suite's per-run line, or ``None`` for any other output."""
    m = _LINE.match(line)
    return Progress(int(m.group(1)), int(m.group(2)), m.group(3), m.group(4)) if m else None


def missing_packages() -> list[str]:
    """The verifier's packages this Python cannot import (checked without importing them)."""
    return [name for name in PACKAGES if importlib.util.find_spec(name) is None]


def suite_command(suite: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "verify", "suite", str(suite), "--out", str(out), "--no-progress"]


def run(
    cmd: list[str], on_progress: Callable[[Progress], None], grace_s: float = 10.0
) -> tuple[int, list[str]]:
    """Run ``cmd``, calling ``on_progress`` per finished configuration; (exit status, output lines).

    Whatever stops the caller (Streamlit's stop, an exception) stops the suite too.
    """
    lines: list[str] = []
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line.rstrip("\n"))
            progress = parse_progress(line)
            if progress is not None:
                on_progress(progress)
        return proc.wait(), lines
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
