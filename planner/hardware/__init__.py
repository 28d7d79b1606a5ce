"""GPUs: the shipped catalog (``data/gpus.json``), size parsing, and this machine's GPUs.

Pure core: no torch, no streamlit. ``pynvml`` is imported only inside :func:`read_live_gpus`
(NVIDIA), and only when no NVML module is passed in; :func:`read_machine` adds a Mac's GPU
(``sysctl``), AMD GPUs and APUs (``amdsmi``, ``amd-smi``, ``rocm-smi``, sysfs) and Intel GPUs
(``xpu-smi``), each read with fixed commands and never raising. Those readers (NVML's too) load on first use,
keeping the CLI's start light.
"""

from __future__ import annotations

from typing import Any

from planner.hardware.errors import (
    AmbiguousGpuError,
    GpuCatalogError,
    HardwareError,
    SizeError,
    UnknownGpuError,
)
from planner.hardware.gpus import (
    SUPPORT_RULES,
    Gpu,
    Support,
    find_gpu,
    gpus_by_id,
    load_gpus,
    match_gpu,
    search_gpus,
)
from planner.hardware.units import format_bandwidth, format_gb, format_gib, format_size, parse_size

__all__ = [
    "SUPPORT_RULES",
    "AmbiguousGpuError",
    "Gpu",
    "GpuCatalogError",
    "GpuProcess",
    "HardwareError",
    "LiveDevice",
    "LiveGpu",
    "LiveReport",
    "MachineReport",
    "MigDevice",
    "ReaderStatus",
    "SizeError",
    "Support",
    "UnknownGpuError",
    "find_gpu",
    "format_bandwidth",
    "format_gb",
    "format_gib",
    "format_size",
    "gpus_by_id",
    "load_gpus",
    "match_gpu",
    "parse_size",
    "read_live_gpus",
    "read_machine",
    "search_gpus",
]

_LAZY = {
    "GpuProcess": "planner.hardware.live",
    "LiveGpu": "planner.hardware.live",
    "LiveReport": "planner.hardware.live",
    "MigDevice": "planner.hardware.live",
    "read_live_gpus": "planner.hardware.live",
    "LiveDevice": "planner.hardware.device",
    "ReaderStatus": "planner.hardware.device",
    "MachineReport": "planner.hardware.machine",
    "read_machine": "planner.hardware.machine",
}


def __getattr__(name: str) -> Any:
    """The machine readers, imported on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'planner.hardware' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
