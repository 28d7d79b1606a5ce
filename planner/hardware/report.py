"""Plain-dict views of catalog and live GPUs for ``--json`` output and the app's downloads."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from planner.hardware.gpus import Gpu
from planner.hardware.live import LiveGpu, LiveReport


def gpu_to_dict(gpu: Gpu) -> dict[str, Any]:
    """Every catalog field, integer bytes and ops, plus ``usable_bytes``."""
    data = asdict(gpu)
    data["aliases"] = list(gpu.aliases)
    data["nvml_names"] = list(gpu.nvml_names)
    data["usable_bytes"] = gpu.usable_bytes
    return data


def live_gpu_to_dict(gpu: LiveGpu) -> dict[str, Any]:
    """A live GPU with the catalog match by id and the derived figures spelled out."""
    data = asdict(gpu)
    data.pop("catalog")
    data["catalog_id"] = gpu.catalog.id if gpu.catalog else None
    data["usable_bytes"] = gpu.usable_bytes
    data["derived_bandwidth_bytes_per_s"] = gpu.derived_bandwidth_bytes_per_s
    data["bandwidth_bytes_per_s"] = gpu.bandwidth_bytes_per_s
    return data


def live_report_to_dict(report: LiveReport) -> dict[str, Any]:
    """The whole NVML report."""
    return {
        "available": report.available,
        "reason": report.reason,
        "driver_version": report.driver_version,
        "cuda_driver_version": report.cuda_driver_version,
        "gpus": [live_gpu_to_dict(g) for g in report.gpus],
        "warnings": list(report.warnings),
    }
