"""What a vLLM process holds beyond tensors: CUDA context, non-torch memory, CUDA graphs (banded)."""

from __future__ import annotations

from planner.engines.constants import constant, empirical
from planner.memory.figure import Figure


def overhead_figure() -> Figure:
    """CUDA context + non-torch allocations (NCCL, attention workspaces) + CUDA graphs.

    # NOTE: calibrate (cuda_context_mib, vllm_non_torch_mib, vllm_cudagraph_mib in data/engines.json).
    """
    ctx, nt, cg = (
        constant("cuda_context_mib"),
        constant("vllm_non_torch_mib"),
        constant("vllm_cudagraph_mib"),
    )
    point = ctx.bytes + nt.bytes + cg.bytes
    low = ctx.band_bytes[0] + nt.band_bytes[0] + cg.band_bytes[0]
    high = ctx.band_bytes[1] + nt.band_bytes[1] + cg.band_bytes[1]
    return empirical(
        point,
        low,
        high,
        f"CUDA context {ctx.value:g} MiB + non-torch memory {nt.value:g} MiB + CUDA graphs {cg.value:g} MiB "
        "(0 with --enforce-eager)",
        keys=(),
        source=f"{ctx.source}; {nt.source}; {cg.source}",
        parts={"cuda_context": ctx.bytes, "non_torch": nt.bytes, "cuda_graphs": cg.bytes},
    )
