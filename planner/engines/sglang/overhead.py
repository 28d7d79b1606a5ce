"""What an SGLang process holds beyond tensors: the CUDA context and its CUDA graphs (SGLang's own estimate)."""

from __future__ import annotations

from planner.engines.constants import MIB, constant, empirical
from planner.engines.sglang.startup import SRC_ARGS
from planner.memory.figure import Figure

#: cuda_graph_max_bs of an 80 GB GPU below tensor parallel 4 (the tier an estimate without a GPU assumes).
DEFAULT_GRAPH_BS = 256


def overhead_figure(cuda_graph_max_bs: int = DEFAULT_GRAPH_BS) -> Figure:
    """CUDA context + CUDA graphs at SGLang's own heuristic of 2 MiB per captured batch size."""
    ctx = constant("cuda_context_mib")
    graphs = cuda_graph_max_bs * 2 * MIB
    return empirical(
        ctx.bytes + graphs,
        ctx.band_bytes[0],
        ctx.band_bytes[1] + graphs,
        f"CUDA context {ctx.value:g} MiB + CUDA graphs (SGLang's estimate: cuda_graph_max_bs {cuda_graph_max_bs} x 2 MiB)",
        keys=("cuda_graph_max_bs",),
        source=f"{ctx.source}; {SRC_ARGS}",
        parts={"cuda_context": ctx.bytes, "cuda_graphs": graphs},
    )


__all__ = ["DEFAULT_GRAPH_BS", "overhead_figure"]
