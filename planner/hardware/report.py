"""Plain-dict and text views of catalog and live GPUs for ``gpus --json``, ``gpus --live`` and the app's downloads."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from planner.hardware.gpus import Gpu
from planner.hardware.live import LiveGpu, LiveReport
from planner.hardware.units import format_bandwidth, format_size

if TYPE_CHECKING:
    from planner.hardware.device import LiveDevice
    from planner.hardware.machine import MachineReport


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


def live_device_to_dict(device: LiveDevice) -> dict[str, Any]:
    """One device of any vendor, with its catalog match by id and the bytes a plan may start from."""
    return {
        "vendor": device.vendor,
        "index": device.index,
        "name": device.name,
        "reader": device.reader,
        "total_bytes": device.total_bytes,
        "free_bytes": device.free_bytes,
        "used_bytes": device.used_bytes,
        "unified_memory": device.unified,
        "gpu_limit_bytes": device.gpu_limit_bytes,
        "gpu_limit_rule": device.gpu_limit_rule,
        "capacity_bytes": device.capacity_bytes,
        "catalog_id": device.catalog.id if device.catalog else None,
        "details": dict(device.details),
        "notes": list(device.notes),
    }


def machine_report_to_dict(report: MachineReport) -> dict[str, Any]:
    """Every reader's view: NVML's fields as before (``gpus`` are NVML's), plus ``devices`` of every vendor."""
    data = live_report_to_dict(report.nvml)
    data["available"] = report.available
    data["reason"] = report.reason
    data["warnings"] = list(dict.fromkeys([*report.nvml.warnings, *report.warnings]))
    data["devices"] = [live_device_to_dict(d) for d in report.devices]
    data["readers"] = [
        {"reader": r.reader, "devices": r.devices, "message": r.message} for r in report.readers
    ]
    data["host_memory"] = (
        None
        if report.host is None
        else {
            "total_bytes": report.host.total_bytes,
            "available_bytes": report.host.available_bytes,
            "source": report.host.source,
        }
    )
    return data


def _size(value: int | None) -> str:
    return "?" if value is None else format_size(value)


def nvml_lines(report: LiveReport) -> list[str]:
    """NVML's GPUs in words: memory, bandwidth, MIG instances and processes."""
    lines = [f"driver {report.driver_version or '?'}, CUDA driver {report.cuda_driver_version or '?'}"]
    for g in report.gpus:
        match = g.catalog.id if g.catalog else "not in catalog"
        lines.append(f"GPU {g.index}: {g.name or '?'}  [{match}]  {g.uuid or ''}".rstrip())
        if g.total_bytes is not None:
            reserved = f", reserved {format_size(g.reserved_bytes)}" if g.reserved_bytes is not None else ""
            lines.append(
                f"  memory: total {format_size(g.total_bytes)}, free {_size(g.free_bytes)}, "
                f"used {_size(g.used_bytes)}{reserved} (NVML memory info v{g.memory_info_version})"
            )
        else:
            lines.append("  memory: not readable through NVML")
        if g.bandwidth_bytes_per_s:
            lines.append(f"  bandwidth: {format_bandwidth(g.bandwidth_bytes_per_s)}")
        if g.mig_enabled:
            lines.append(f"  MIG enabled, {len(g.mig_devices)} instance(s)")
            for m in g.mig_devices:
                lines.append(f"    MIG {m.index}: {m.name or '?'}  total {_size(m.total_bytes)}")
        for p in g.processes:
            used = format_size(p.used_bytes) if p.used_bytes is not None else "n/a"
            lines.append(f"  pid {p.pid} ({p.kind}): {used}")
    return lines


def device_lines(device: LiveDevice) -> list[str]:
    """One device of any vendor in words; approximate figures say so."""
    match = device.catalog.id if device.catalog else "not in catalog"
    lines = [f"{device.label}  [{match}]  (read by {device.reader})"]
    if device.unified:
        lines.append(
            f"  unified memory: {_size(device.total_bytes)} shared with the CPU; GPU limit "
            f"{_size(device.gpu_limit_bytes)} ({device.gpu_limit_rule or 'unknown rule'})"
        )
        if device.used_bytes is not None or device.free_bytes is not None:
            lines.append(f"  in use {_size(device.used_bytes)}, free {_size(device.free_bytes)}")
    else:
        lines.append(
            f"  memory: total {_size(device.total_bytes)}, free {_size(device.free_bytes)}, "
            f"used {_size(device.used_bytes)}"
        )
    capacity = device.capacity_bytes
    lines.append(
        f"  a plan starts from: {_size(capacity)}" if capacity is not None else "  a plan starts from: ?"
    )
    lines.extend(f"  {key}: {value}" for key, value in device.details)
    lines.extend(f"  note: {note}" for note in device.notes)
    return lines


def machine_lines(report: MachineReport) -> list[str]:
    """The ``gpus --live`` text: NVML's GPUs as before, then every other device, then the warnings."""
    lines: list[str] = []
    if report.nvml.available:
        lines.extend(nvml_lines(report.nvml))
    for device in report.devices:
        if device.reader == "nvml":
            continue  # shown by nvml_lines
        lines.extend(device_lines(device))
    if not report.available:
        lines.append(report.reason or "no GPU detected")
    elif not report.nvml.available:
        lines.append(f"(NVML: {report.nvml.reason})")
    lines.extend(f"warning: {w}" for w in dict.fromkeys([*report.nvml.warnings, *report.warnings]))
    return lines
