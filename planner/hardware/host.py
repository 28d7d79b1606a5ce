"""This machine's main memory (Linux ``/proc/meminfo``), which unified-memory GPUs share with the CPU.

``MemTotal`` is the RAM the kernel manages (a little below the installed amount: firmware and
carve-outs are left out); ``MemAvailable`` is its estimate of what can be allocated without
swapping. Both are in KiB although the file writes "kB" (kernel
``Documentation/filesystems/proc.rst``, "meminfo").
"""

from __future__ import annotations

import re
from pathlib import Path

from planner.frozen import record
from planner.hardware.tools import read_small

MEMINFO = Path("proc/meminfo")
_LINE = re.compile(r"^(\w+):\s+(\d+)\s*kB\s*$")


@record
class HostMemory:
    """Main memory in bytes and where the figures came from."""

    total_bytes: int
    available_bytes: int | None
    source: str


def parse_meminfo(text: str) -> HostMemory | None:
    """``MemTotal`` and ``MemAvailable`` from the text of ``/proc/meminfo``; ``None`` when unreadable."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        match = _LINE.match(line.strip())
        if match:
            values[match.group(1)] = int(match.group(2)) * 1024
    total = values.get("MemTotal")
    if not total:
        return None
    available = values.get("MemAvailable")
    if available is not None and available > total:
        available = None  # contradicts the total: not trusted
    return HostMemory(total, available, "/proc/meminfo (MemTotal, MemAvailable)")


def read_host_memory(root: Path = Path("/")) -> HostMemory | None:
    """Main memory from ``<root>/proc/meminfo`` (Linux); ``None`` elsewhere or when unreadable."""
    text = read_small(root / MEMINFO)
    return parse_meminfo(text) if text else None
