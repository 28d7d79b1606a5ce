"""mlx-lm's transient memory: one prefill chunk through the widest layer (banded estimate).

mlx_lm.generate processes the prompt in chunks of ``prefill_step_size`` = 2048 tokens
(generate.py generate_step), evaluating only the cache after each chunk (the chunk's logits stay
an unevaluated lazy graph) and calling ``mx.clear_cache()`` between chunks. The peak is one chunk's
widest layer: the MLP's gate, up and their product (``3 x ffn``, ``top_k`` experts for MoE) or the
attention projections, in the activation dtype; ``mx.fast.scaled_dot_product_attention`` builds no
score matrix. A rotating (sliding-window) cache briefly holds ``window + chunk - 1`` tokens.
"""

from __future__ import annotations

from planner.engines.constants import constant, empirical
from planner.engines.mlx.kv import PREFILL_STEP
from planner.engines.mlx.kv import SOURCE as KV_SOURCE
from planner.engines.shape import model_shape
from planner.hardware.units import format_short
from planner.memory.figure import Figure
from planner.model.spec import ModelSpec

SOURCE = "ml-explore/mlx-lm v0.31.3 mlx_lm/generate.py (generate_step prefill_step_size 2048, mx.clear_cache per chunk)"
DTYPE_BYTES = 2


def activations_figure(spec: ModelSpec, context: int, batch: int, overhang: int) -> Figure:
    """The prefill chunk's peak (``min(context, 2048)`` tokens x ``batch`` prompts) plus a rotating cache's overhang."""
    shape = model_shape(spec)
    tokens = min(context, PREFILL_STEP) * batch
    ffn = 3 * max(shape.ffn, shape.top_k * shape.expert_ffn)
    width = ffn + 4 * shape.hidden + shape.query_heads * shape.head_dim
    base = tokens * width * DTYPE_BYTES
    factor = constant("mlx_activation_factor")
    point, low, high = factor.scale(base)
    rule = (
        f"prefill chunk {tokens:,} tokens x (3 x ffn {ffn // 3:,} + 4 x hidden {shape.hidden:,} + q {shape.query_heads * shape.head_dim:,})"
        f" x {DTYPE_BYTES} B = {format_short(base)}" + (f" x {factor.value:g}" if factor.value != 1 else "")
    )
    parts = {"prefill_chunk": point}
    if overhang:
        rule += f" + rotating cache overhang during prefill {format_short(overhang)}"
        parts["rotating_cache_overhang"] = overhang
    return empirical(
        point + overhang,
        low + overhang,
        high + overhang,
        rule,
        keys=("context", "batch", "hidden_size", "intermediate_size"),
        source=f"{SOURCE}; {KV_SOURCE}; {factor.source}",
        parts=parts,
    )


__all__ = ["SOURCE", "activations_figure"]
