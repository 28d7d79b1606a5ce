"""What a llama.cpp process holds beyond tensors: CUDA context, cuBLAS and the ggml scheduler (banded)."""

from __future__ import annotations

from planner.engines.constants import constant, empirical
from planner.memory.figure import Figure


def overhead_figure() -> Figure:
    """CUDA context, cuBLAS and the ggml scheduler of a llama.cpp process.

    # NOTE: calibrate (llamacpp_overhead_mib in data/engines.json).
    """
    c = constant("llamacpp_overhead_mib")
    low, high = c.band_bytes
    return empirical(
        c.bytes,
        low,
        high,
        f"CUDA context + cuBLAS + scheduler ~{c.value:g} MiB (llama.cpp allocates no caching-allocator slack)",
        keys=(),
        source=c.source,
        parts={"cuda_context_and_runtime": c.bytes},
    )
