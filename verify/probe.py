"""Memory counters of the device a run uses: torch's allocator and NVML on CUDA, nothing on the CPU.

NVML is read through :func:`planner.hardware.live.read_live_gpus` (no CUDA context, never
raises). Device-level ``used`` before and after is the process's footprint: NVML's
per-process figure is kept too, but inside a container its PIDs are the host's and
rarely match ``os.getpid()``.
"""

from __future__ import annotations

import os
from typing import Any

from planner.hardware.live import LiveGpu, read_live_gpus


class HostProbe:
    """The CPU: no allocator counters, no NVML (CPU mode measures tensors, not the allocator)."""

    device = "cpu"
    torch_device = "cpu"

    def start(self) -> None:
        """Nothing to warm up."""

    def sync(self) -> None:
        """CPU work is synchronous."""

    def allocated(self) -> int | None:
        return None

    def peak(self) -> int | None:
        return None

    def reset_peak(self) -> None:
        """No peak counter to reset."""

    def reserved(self) -> int | None:
        return None

    def max_reserved(self) -> int | None:
        return None

    def nvml_used(self) -> int | None:
        return None

    def process_used(self) -> int | None:
        return None

    def capability(self) -> tuple[int, int] | None:
        return None

    def gpu(self) -> LiveGpu | None:
        return None

    def allocator_settings(self) -> str | None:
        return None


class CudaProbe:
    """CUDA device 0: torch's caching-allocator counters and NVML's view of the device.

    ``nvml`` is the NVML module (a fake in tests); ``None`` imports ``pynvml``.
    """

    device = "cuda"
    torch_device = "cuda"

    def __init__(self, nvml: Any = None) -> None:
        self.nvml = nvml
        self._uuid: str | None = None
        self._started = False
        self._allocator: str | None = None

    def _torch(self) -> Any:
        import torch

        return torch

    def start(self) -> None:
        """Create the CUDA context and run a warm-up matmul (cuBLAS handle and workspace)."""
        torch = self._torch()
        torch.cuda.init()
        torch.cuda.set_device(0)
        a = torch.randn(1024, 1024, device="cuda", dtype=torch.bfloat16)
        (a @ a).sum().item()
        torch.cuda.synchronize()
        del a
        # NOTE: the warm-up tensors' cached block is not context: hand it back before NVML looks.
        torch.cuda.empty_cache()
        uuid = getattr(torch.cuda.get_device_properties(0), "uuid", None)
        self._uuid = str(uuid) if uuid is not None else None
        self._started = True
        self._allocator = self._read_allocator_settings()

    def sync(self) -> None:
        self._torch().cuda.synchronize()

    def allocated(self) -> int | None:
        return int(self._torch().cuda.memory_allocated())

    def peak(self) -> int | None:
        return int(self._torch().cuda.max_memory_allocated())

    def reset_peak(self) -> None:
        self._torch().cuda.reset_peak_memory_stats()

    def reserved(self) -> int | None:
        return int(self._torch().cuda.memory_reserved())

    def max_reserved(self) -> int | None:
        return int(self._torch().cuda.max_memory_reserved())

    def capability(self) -> tuple[int, int] | None:
        """Compute capability; before :meth:`start` from NVML, so asking creates no CUDA context."""
        if self._started:
            major, minor = self._torch().cuda.get_device_capability(0)
            return int(major), int(minor)
        g = self.gpu()
        if g is None or not g.compute_capability:
            return None
        major, _, minor = g.compute_capability.partition(".")
        return (int(major), int(minor)) if major.isdigit() and minor.isdigit() else None

    def gpu(self) -> LiveGpu | None:
        """The NVML view of the device torch uses (matched by UUID when torch gives one)."""
        report = read_live_gpus(self.nvml)
        if not report.gpus:
            return None
        if self._uuid:
            for g in report.gpus:
                if g.uuid and self._uuid.replace("GPU-", "") in g.uuid:
                    return g
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
        if visible.isdigit():
            for g in report.gpus:
                if g.index == int(visible):
                    return g
        return report.gpus[0]

    def nvml_used(self) -> int | None:
        """Device memory in use (NVML v2 ``used``, driver-reserved memory excluded)."""
        g = self.gpu()
        return g.used_bytes if g else None

    def process_used(self) -> int | None:
        """NVML's figure for this process, when its PID is visible (not inside most containers)."""
        g = self.gpu()
        if g is None:
            return None
        for p in g.processes:
            if p.pid == os.getpid():
                return p.used_bytes
        return None

    def allocator_settings(self) -> str | None:
        """The caching allocator's effective settings (``PYTORCH_ALLOC_CONF`` as torch parsed it),
        read once right after :meth:`start`, while the snapshot is small."""
        return self._allocator

    def _read_allocator_settings(self) -> str | None:
        torch = self._torch()
        try:
            snap = torch.cuda.memory._snapshot()
        except Exception:  # a private API: absent or changed in this torch
            return None
        settings = snap.get("allocator_settings") if isinstance(snap, dict) else None
        return None if settings is None else str(settings)


def probe_for(device: str, nvml: Any = None) -> HostProbe | CudaProbe:
    """The probe for ``device`` (``cuda`` or ``cpu``)."""
    return CudaProbe(nvml) if device == "cuda" else HostProbe()


__all__ = ["CudaProbe", "HostProbe", "probe_for"]
