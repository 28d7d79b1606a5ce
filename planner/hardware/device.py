"""One GPU on this machine as any reader saw it (NVML, sysctl, amdsmi, amd-smi, rocm-smi, sysfs, xpu-smi).

A :class:`LiveDevice` has the same few fields whatever the vendor, so the fit, the CLI and the
My GPUs page treat an Apple chip, a Strix Halo APU and an RTX card alike. The vendor details a
reader found (GFX target, GPU cores, the Metal limit's origin) go into ``details``.

Memory on a **unified** device (Apple silicon, AMD APUs, NVIDIA GB10) is the machine's main
memory, shared with the CPU: ``total_bytes`` is all of it and ``gpu_limit_bytes`` the most the
GPU may allocate (Metal's working-set limit; the APU's VRAM carve-out plus its GTT; for GB10 the
memory CUDA sees). ``capacity_bytes`` is what a plan may start from now.
"""

from __future__ import annotations

from planner.frozen import record
from planner.hardware.gpus import Gpu


@record
class LiveDevice:
    """One GPU read on this machine; bytes are integers, ``None`` where the reader could not say."""

    vendor: str
    index: int
    name: str | None
    reader: str
    total_bytes: int | None
    free_bytes: int | None
    used_bytes: int | None
    unified: bool = False
    gpu_limit_bytes: int | None = None
    gpu_limit_rule: str | None = None
    catalog: Gpu | None = None
    details: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def capacity_bytes(self) -> int | None:
        """Bytes a plan may start from now.

        Discrete: the free memory. Unified: the GPU limit less what is in use, and never more
        than the free memory the reader reports (the CPU's programs use the same memory).
        """
        if not self.unified:
            return self.free_bytes
        if self.gpu_limit_bytes is None:
            return self.free_bytes
        room = self.gpu_limit_bytes - (self.used_bytes or 0)
        if self.free_bytes is not None:
            room = min(room, self.free_bytes)
        return max(room, 0)

    @property
    def label(self) -> str:
        """``GPU 0: NVIDIA GeForce RTX 4090`` / ``AMD GPU 1: Radeon RX 7900 XT``."""
        prefix = "GPU" if self.vendor == "nvidia" else f"{self.vendor_name} GPU"
        return f"{prefix} {self.index}: {self.name or '?'}"

    @property
    def vendor_name(self) -> str:
        """``NVIDIA``, ``AMD``, ``Intel`` or ``Apple``."""
        return {"nvidia": "NVIDIA", "amd": "AMD", "intel": "Intel", "apple": "Apple"}.get(
            self.vendor, self.vendor
        )


@record
class ReaderStatus:
    """What one reader did: how many devices it found, or why it found none (``message``)."""

    reader: str
    devices: int
    message: str
