"""Every GPU on this machine, whatever the vendor: NVML, a Mac's sysctl, AMD's tools, Intel's xpu-smi.

:func:`read_machine` never raises. Each reader runs only where it can apply (``sysctl`` on macOS;
AMD's ``rocm-smi`` and sysfs on Linux) and only if its tool is installed; each says what it did
in a :class:`~planner.hardware.device.ReaderStatus`, so "no GPU" always comes with the reasons.

NOTE: NVIDIA GB10 (DGX Spark) has no memory of its own and NVML answers its memory queries with
"Not Supported" (NVIDIA's DGX Spark known issues,
https://docs.nvidia.com/dgx/dgx-spark/known-issues.html#nvidia-smi-reports-memory-usage-not-supported);
for a GPU the catalog marks unified, the memory is read from ``/proc/meminfo`` instead, as
nvtop, gpud and all-smi do (Syllo/nvtop#411, leptonai/gpud#1170, lablup/all-smi#146).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import field
from pathlib import Path
from typing import Any

from planner.frozen import record
from planner.hardware.amd import read_amd
from planner.hardware.apple import read_apple
from planner.hardware.device import LiveDevice, ReaderStatus
from planner.hardware.host import HostMemory, read_host_memory
from planner.hardware.intel import read_intel
from planner.hardware.live import LiveGpu, LiveReport, read_live_gpus
from planner.hardware.tools import Runner, run_tool

GB10_RULE = "unified memory: NVML reports none; CUDA sees main memory (/proc/meminfo MemTotal, MemAvailable)"


@record
class MachineReport:
    """What every reader saw. ``nvml`` keeps NVML's own report (NVIDIA details: processes, MIG)."""

    devices: tuple[LiveDevice, ...]
    readers: tuple[ReaderStatus, ...]
    nvml: LiveReport
    host: HostMemory | None = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def available(self) -> bool:
        """At least one GPU was read."""
        return bool(self.devices)

    @property
    def reason(self) -> str | None:
        """Why no GPU was read (each reader's answer), or ``None``."""
        if self.devices:
            return None
        return "no GPU detected: " + "; ".join(f"{r.reader}: {r.message}" for r in self.readers)


def _import_amdsmi() -> Any:
    try:
        import amdsmi  # type: ignore[import-not-found]
    except Exception:  # ImportError, or a library that fails to load at import
        return None
    return amdsmi


def _nvidia_devices(report: LiveReport, host: HostMemory | None) -> list[LiveDevice]:
    devices = []
    for g in report.gpus:
        details = [(k, v) for k, v in (("UUID", g.uuid), ("compute capability", g.compute_capability)) if v]
        if report.driver_version:
            details.append(("driver", report.driver_version))
        if g.mig_enabled and g.mig_devices:
            for m in g.mig_devices:
                devices.append(
                    LiveDevice(
                        "nvidia",
                        g.index,
                        f"{g.name or '?'} MIG {m.index} ({m.name or '?'})",
                        "nvml",
                        m.total_bytes,
                        m.free_bytes,
                        m.used_bytes,
                        details=tuple(details),
                    )
                )
            continue
        devices.append(_nvidia_device(g, host, details))
    return devices


def _nvidia_device(g: LiveGpu, host: HostMemory | None, details: list[tuple[str, str]]) -> LiveDevice:
    if g.total_bytes is None and g.catalog is not None and g.catalog.unified_memory and host is not None:
        used = host.total_bytes - host.available_bytes if host.available_bytes is not None else None
        return LiveDevice(
            "nvidia",
            g.index,
            g.name,
            "nvml+meminfo",
            host.total_bytes,
            host.available_bytes,
            used,
            unified=True,
            gpu_limit_bytes=host.total_bytes,
            gpu_limit_rule=GB10_RULE,
            catalog=g.catalog,
            details=tuple(details),
            notes=(
                "NVML reports no memory on this unified-memory GPU (NVIDIA known issue); main memory from "
                "/proc/meminfo is shared by the GPU, the OS and every program",
            ),
        )
    notes = (
        () if g.total_bytes is not None else ("NVML gave no memory figures (MIG parent without privileges?)",)
    )
    return LiveDevice(
        "nvidia",
        g.index,
        g.name,
        "nvml",
        g.total_bytes,
        g.free_bytes,
        g.used_bytes,
        catalog=g.catalog,
        details=tuple(details),
        notes=notes,
    )


def read_machine(
    *,
    nvml: Any = None,
    nvml_report: LiveReport | None = None,
    run: Runner = run_tool,
    root: Path = Path("/"),
    platform: str | None = None,
    amdsmi: Any = None,
    import_amdsmi: Callable[[], Any] = _import_amdsmi,
) -> MachineReport:
    """Every GPU on this machine; never raises.

    The parameters are for tests: a fake NVML module (or an NVML report already read), a
    :data:`~planner.hardware.tools.Runner` replaying recorded tool outputs, a folder standing for
    ``/`` (``proc/meminfo``, ``sys/class/drm``), the platform name and a fake ``amdsmi`` module.
    """
    platform = platform or sys.platform
    warnings: list[str] = []
    try:
        report = nvml_report if nvml_report is not None else read_live_gpus(nvml)
    except Exception as exc:  # read_live_gpus never raises; a caller's stand-in might
        report = LiveReport(False, f"NVML could not be read ({type(exc).__name__})", None, None, ())
    host = read_host_memory(root) if platform.startswith("linux") else None
    devices = _nvidia_devices(report, host)
    nvml_message = report.reason or f"{len(report.gpus)} NVIDIA GPU(s)"
    statuses = [ReaderStatus("nvml", len(devices), nvml_message)]
    warnings.extend(report.warnings)
    readers: list[Callable[[], tuple[tuple[LiveDevice, ...], tuple[ReaderStatus, ...]]]] = []
    if platform == "darwin":
        readers.append(lambda: _one(read_apple(run)))
    else:
        linux = platform.startswith("linux")

        def amd() -> tuple[tuple[LiveDevice, ...], tuple[ReaderStatus, ...]]:
            module = amdsmi if amdsmi is not None else import_amdsmi()
            return read_amd(run, root, host, module, linux=linux)

        readers += [amd, lambda: _one(read_intel(run))]
    for reader in readers:
        try:
            found, reader_statuses = reader()
        except Exception as exc:  # each reader never raises; this guards against a bug in one
            warnings.append(f"a GPU reader failed ({type(exc).__name__}: {exc})"[:300])
            continue
        devices.extend(found)
        statuses.extend(reader_statuses)
    return MachineReport(tuple(devices), tuple(statuses), report, host, tuple(warnings))


def _one(
    result: tuple[tuple[LiveDevice, ...], ReaderStatus],
) -> tuple[tuple[LiveDevice, ...], tuple[ReaderStatus, ...]]:
    return result[0], (result[1],)
