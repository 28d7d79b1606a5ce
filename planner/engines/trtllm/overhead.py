"""What a TensorRT-LLM process holds beyond tensors: the CUDA context (its CUDA graphs sit in the dry-run peak)."""

from __future__ import annotations

from planner.engines.constants import constant, empirical
from planner.memory.figure import Figure


def overhead_figure() -> Figure:
    """The CUDA context."""
    ctx = constant("cuda_context_mib")
    return empirical(
        ctx.bytes,
        ctx.band_bytes[0],
        ctx.band_bytes[1],
        f"CUDA context {ctx.value:g} MiB (CUDA graphs are captured during warm-up, inside the dry-run peak)",
        keys=(),
        source=ctx.source,
        parts={"cuda_context": ctx.bytes},
    )


__all__ = ["overhead_figure"]
