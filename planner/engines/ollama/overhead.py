"""What Ollama keeps free on each GPU, and what the llama-server process itself holds.

Ollama v0.32.15 no longer places layers itself: it starts llama-server without ``-ngl`` and lets
llama.cpp's ``--fit`` (default on) keep its target margin free on every device (1024 MiB,
``-fitt``/``LLAMA_ARG_FIT_TARGET``). When a vision projector is offloaded, Ollama sets
``LLAMA_ARG_FIT_TARGET`` to the projector's bytes + 1 GiB instead ("mmprojMemoryRequirement is a
stopgap until fit accounts for mmproj memory directly"), which leaves the text model the same room
as counting the projector and keeping 1 GiB: the fit rule used here. ``OLLAMA_GPU_OVERHEAD``
(default 0, "Reserve a portion of VRAM per GPU (bytes)") and the per-GPU minimum (457 MiB CUDA/ROCm,
512 MiB Metal, ml/device.go MinimumMemory) are subtracted only in the scheduler's logged "available"
and in the default-context tier (server/routes.go), not in the placement. The process holds what
llama-server holds (llama.cpp's overhead rule).
"""

from __future__ import annotations

from planner.hardware.units import GIB, MIB

SOURCE = (
    "ollama/ollama v0.32.15 llm/llama_server.go (no -ngl by default; LLAMA_ARG_FIT_TARGET = mmproj bytes + "
    "mmprojOffloadHeadroom 1 GiB), server/sched.go (available = free - GpuOverhead - MinimumMemory, logged), "
    "ml/device.go MinimumMemory (457 MiB; 512 MiB Metal), envconfig/config.go OLLAMA_GPU_OVERHEAD (default 0); "
    "llama.cpp tools/server/README.md @00dc8057 (--fit on, --fit-target default 1024 MiB)"
)
FIT_TARGET_BYTES = 1024 * MIB
MMPROJ_HEADROOM_BYTES = 1 * GIB
MINIMUM_MEMORY = {"cuda": 457 * MIB, "rocm": 457 * MIB, "metal": 512 * MIB}


__all__ = ["FIT_TARGET_BYTES", "MINIMUM_MEMORY", "MMPROJ_HEADROOM_BYTES", "SOURCE"]
