"""TensorRT-LLM's activation peak: its dry run of ``max_num_tokens`` tokens (structural x an uncalibrated factor)."""

from __future__ import annotations

from planner.engines.constants import constant
from planner.engines.forward import forward_figure
from planner.engines.trtllm.startup import MAX_NUM_TOKENS, SRC
from planner.memory.figure import Figure
from planner.model.spec import ModelSpec


def activations_figure(spec: ModelSpec, act_bytes: int, *, context: int) -> Figure:
    """The dry run: dummy context requests of up to ``context`` tokens, ``max_num_tokens`` in all."""
    tokens = MAX_NUM_TOKENS
    requests = -(-tokens // max(min(context, tokens), 1))
    return forward_figure(
        spec,
        act_bytes,
        tokens=tokens,
        logits_rows=requests,
        source=f"{SRC} (dry run of max_num_tokens)",
        factor=constant("trtllm_activation_factor"),
    )


__all__ = ["activations_figure"]
