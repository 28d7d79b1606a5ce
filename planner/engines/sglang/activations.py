"""SGLang's activations: one chunked-prefill step (structural; SGLang runs no profile at start-up).

SGLang keeps them out of its pool: ``mem_fraction_static`` leaves ``reserved_mem`` MiB for them and
the CUDA graphs (``ServerArgs._handle_gpu_memory_settings``: ``max(chunked_prefill_size, 2048) x 1.5``
for the activations of a large prefill).
"""

from __future__ import annotations

from planner.engines.forward import forward_figure
from planner.engines.sglang.startup import SRC_ARGS
from planner.memory.figure import Figure
from planner.model.spec import ModelSpec

#: chunked_prefill_size of an 80 GB GPU (the tier an estimate without a GPU assumes).
DEFAULT_CHUNK = 8192


def activations_figure(
    spec: ModelSpec, act_bytes: int, *, context: int, batch: int, chunk: int = DEFAULT_CHUNK
) -> Figure:
    """A prefill step of ``min(context x batch, chunked_prefill_size)`` tokens and ``batch`` logits rows."""
    return forward_figure(
        spec,
        act_bytes,
        tokens=min(context * batch, chunk),
        logits_rows=batch,
        source=f"structural: one chunked-prefill step of at most chunked_prefill_size tokens ({SRC_ARGS})",
    )


__all__ = ["DEFAULT_CHUNK", "activations_figure"]
