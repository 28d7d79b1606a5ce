"""Running a vendor tool (``sysctl``, ``rocm-smi``, ``amd-smi``, ``xpu-smi``) and reading small system files.

Every command is a fixed argument list chosen by the readers (never user input), run without a
shell, with a short timeout and ``LC_ALL=C``. :func:`run_tool` never raises: a missing tool, a
timeout, a non-zero exit status or a failure to start all come back as a :class:`ToolOutput`
whose ``error`` says so in words. The readers take a :data:`Runner` parameter, so tests pass
recorded outputs instead of running anything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from planner.frozen import record

#: Seconds a tool may take before it is abandoned (``rocm-smi`` takes about a second).
TIMEOUT_S = 8.0
#: Most bytes of output read from a tool or a file; beyond is garbage for our purposes.
MAX_OUTPUT = 4 << 20
#: Where ROCm installs its tools when they are not on ``PATH``.
EXTRA_DIRS = ("/opt/rocm/bin", "/usr/sbin", "/sbin")


@record
class ToolOutput:
    """What one command printed (``stdout``) or why it gave nothing usable (``error``)."""

    argv: tuple[str, ...]
    stdout: str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """The command ran, exited 0 and printed something."""
        return self.error is None and self.stdout is not None


Runner = Callable[[Sequence[str], float], ToolOutput]


def find_tool(name: str) -> str | None:
    """The path of ``name`` on ``PATH`` or in :data:`EXTRA_DIRS`, else ``None``."""
    found = shutil.which(name)
    if found:
        return found
    for folder in EXTRA_DIRS:
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0][:200] if lines else ""


def run_tool(argv: Sequence[str], timeout: float = TIMEOUT_S) -> ToolOutput:
    """Run ``argv`` (a fixed list; ``argv[0]`` is looked up with :func:`find_tool`); never raises."""
    args = tuple(argv)
    path = find_tool(args[0])
    if path is None:
        return ToolOutput(args, None, f"{args[0]} is not installed")
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    try:
        done = subprocess.run(  # fixed argument lists, no shell
            [path, *args[1:]],
            capture_output=True,
            timeout=timeout,
            check=False,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return ToolOutput(args, None, f"{args[0]} timed out after {timeout:g} s")
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        return ToolOutput(args, None, f"{args[0]} could not start ({type(exc).__name__}: {exc})"[:300])
    stdout = done.stdout[:MAX_OUTPUT].decode("utf-8", "replace")
    if done.returncode != 0:
        why = _first_line(done.stderr[:MAX_OUTPUT].decode("utf-8", "replace")) or _first_line(stdout)
        return ToolOutput(
            args, None, f"{args[0]} exited with status {done.returncode}" + (f": {why}" if why else "")
        )
    if not stdout.strip():
        return ToolOutput(args, None, f"{args[0]} printed nothing")
    return ToolOutput(args, stdout)


def read_small(path: Path) -> str | None:
    """The text of a small system file (``/proc/meminfo``, a sysfs attribute), or ``None``; never raises."""
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_OUTPUT).decode("utf-8", "replace")
    except (OSError, ValueError):
        return None


def read_int(path: Path) -> int | None:
    """A non-negative integer sysfs attribute (``mem_info_vram_total``), or ``None``."""
    text = read_small(path)
    if text is None:
        return None
    text = text.strip()
    try:
        value = int(text, 16) if text.startswith("0x") else int(text)
    except ValueError:
        return None
    return value if value >= 0 else None
