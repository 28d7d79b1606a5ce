"""Intel GPUs (Arc, Arc Pro, Data Center GPU) through Intel's ``xpu-smi`` (XPU Manager).

``xpu-smi discovery -j`` lists the devices (``{"device_list": [...]}``, ``device_id`` and
``device_name``); where a row lacks the memory fields, ``xpu-smi discovery -d <id> -j`` gives one
device's properties, among them ``memory_physical_size_byte`` and ``memory_free_size_byte`` as
strings of bytes (intel/xpumanager issue #127 shows both on a Battlemage card). ``<id>`` is the
integer the tool itself printed, never user input. Recent kernels' i915 and xe drivers expose no
VRAM size in sysfs the way amdgpu does, so without ``xpu-smi`` no Intel GPU is read.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from planner.hardware.device import LiveDevice, ReaderStatus
from planner.hardware.gpus import match_gpu
from planner.hardware.tools import Runner

READER = "xpu-smi"
DISCOVERY = ("xpu-smi", "discovery", "-j")
_MAX_DEVICES = 64


def _bytes(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _device(row: dict[str, Any], index: int) -> LiveDevice:
    name = row.get("device_name") if isinstance(row.get("device_name"), str) else None
    total = _bytes(row.get("memory_physical_size_byte"))
    free = _bytes(row.get("memory_free_size_byte"))
    notes: list[str] = []
    if total is not None and free is not None and free > total:
        notes.append(f"xpu-smi reported more free memory ({free:,} bytes) than in total ({total:,}); refused")
        total = free = None
    used = total - free if total is not None and free is not None else None
    details = [(k, str(row[k])) for k in ("pci_device_id", "pci_bdf_address", "drm_device") if row.get(k)]
    catalog = match_gpu(name, total) if name else None
    if catalog is not None and catalog.unified_memory:
        notes.append("integrated GPU: its memory is main memory shared with the CPU")
    return LiveDevice(
        "intel",
        index,
        name,
        READER,
        total,
        free,
        used,
        unified=bool(catalog and catalog.unified_memory),
        catalog=catalog,
        details=tuple(details),
        notes=tuple(notes),
    )


def parse_discovery(text: str) -> list[dict[str, Any]]:
    """The rows of ``xpu-smi discovery -j`` (``device_list``), or one device of ``-d <id> -j``; ValueError if garbled."""
    data = json.loads(text)
    if isinstance(data, dict) and isinstance(data.get("device_list"), list):
        return [r for r in data["device_list"] if isinstance(r, dict)]
    if isinstance(data, dict) and "device_id" in data:
        return [data]
    raise ValueError("neither a device_list nor one device")


def read_intel(run: Runner) -> tuple[tuple[LiveDevice, ...], ReaderStatus]:
    """Intel GPUs through ``xpu-smi``; never raises."""
    out = run(DISCOVERY, 10.0)
    if not out.ok:
        return (), ReaderStatus(READER, 0, out.error or "no output")
    try:
        rows = parse_discovery(out.stdout or "")
    except ValueError as exc:
        return (), ReaderStatus(READER, 0, f"xpu-smi printed something unexpected ({exc})"[:300])
    devices = []
    for position, row in enumerate(rows[:_MAX_DEVICES]):
        index = _bytes(row.get("device_id"))
        index = index if index is not None else position
        if "memory_physical_size_byte" not in row:
            detail = run(("xpu-smi", "discovery", "-d", str(index), "-j"), 10.0)
            if detail.ok:
                with contextlib.suppress(ValueError, IndexError):
                    row = {**row, **parse_discovery(detail.stdout or "")[0]}
        devices.append(_device(row, index))
    message = f"{len(devices)} GPU(s)" if devices else "xpu-smi lists no device"
    return tuple(devices), ReaderStatus(READER, len(devices), message)
