"""What a llama.cpp process holds beyond tensors: CUDA context, cuBLAS and the ggml scheduler (banded)."""

from __future__ import annotations

from planner.engines.constants import Constant, constant, empirical
from planner.memo import per_object
from planner.memory.figure import Figure


def overhead_figure() -> Figure:
    """CUDA context, cuBLAS and the ggml scheduler of a llama.cpp process.

    # NOTE: calibrate (llamacpp_overhead_mib in data/engines.json).
    """
    return _overhead(constant("llamacpp_overhead_mib"))


@per_object(maxsize=8)
def _overhead(c: Constant) -> Figure:
    """The figure for one reading of the constant (a calibration makes a new one)."""
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
