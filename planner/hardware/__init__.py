"""GPUs: the shipped catalog (``data/gpus.json``), size parsing, and the local GPUs through NVML.

Pure core: no torch, no streamlit. ``pynvml`` is imported only inside
:func:`read_live_gpus`, and only when no NVML module is passed in.
"""

from __future__ import annotations

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
from planner.hardware.live import GpuProcess, LiveGpu, LiveReport, MigDevice, read_live_gpus
from planner.hardware.units import format_bandwidth, format_gb, format_gib, format_size, parse_size

__all__ = [
    "SUPPORT_RULES",
    "AmbiguousGpuError",
    "Gpu",
    "GpuCatalogError",
    "GpuProcess",
    "HardwareError",
    "LiveGpu",
    "LiveReport",
    "MigDevice",
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
    "search_gpus",
]
