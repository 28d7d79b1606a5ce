"""transformers' activation peak: a prefill of ``context`` tokens at ``batch``, and what it pins (banded)."""

from __future__ import annotations

from functools import partial

from planner.engines.constants import constant, empirical
from planner.engines.shape import ModelShape, model_shape
from planner.engines.transformers.kv import transformers_sliding_retention
from planner.formats.base import WeightsReport
from planner.hardware.units import format_short
from planner.memo import per_object
from planner.memory.estimate import RunSettings
from planner.memory.figure import Figure
from planner.memory.kv import CacheType, attention_kinds, sliding_windows
from planner.model.spec import AttentionKind, ModelSpec

SOURCE = (
    "huggingface/transformers 5.x: cache_utils.py (DynamicLayer, DynamicSlidingWindowLayer, "
    "LinearAttentionLayer), generation/utils.py (logits_to_keep=1), integrations/sdpa_attention.py, "
    "models/llama/modeling_llama.py (eager_attention_forward, LlamaMLP)"
)


def activations_figure(
    spec: ModelSpec, cache_t: CacheType, settings: RunSettings, attn: str, report: WeightsReport
) -> Figure:
    """Peak transient of a prefill of ``context`` tokens (plus what the prefill pins) and of decoding.

    # NOTE: calibrate (transformers_activation_factor in data/engines.json).
    # Prefill, per layer: the residual stream (hidden + residual, plus an fp32 RMSNorm temporary)
    # and the larger of the attention transient (q/k/v, rotated q/k, output; eager adds the
    # [b, heads, ctx, ctx] scores in dtype + fp32 softmax + cast back) and the MLP transient
    # (act(gate), up and their product, each [tokens, intermediate]); routed experts run
    # integrations/moe.py grouped_mm_experts_forward (the default "grouped_mm"): for S = tokens x
    # top_k pairs it holds the gathered inputs [S, hidden] with either gate_up [S, 2I], act(gate)
    # and the product [S, I] each, or four [S, hidden] copies around the weighting and the
    # un-permuting gather, plus int64 sort indices. generate() passes
    # logits_to_keep=1 (generation/utils.py), so logits are [batch, 1, vocab] plus an fp32 copy.
    # Sliding layers pin the whole prompt's K/V until the first decode step (exact part).
    # Two terms sit on top of the largest transient: the boolean [batch, 1, context, context]
    # mask SDPA gets once a sliding layer's window is shorter than the prompt
    # (masking_utils._ignore_causal_mask_sdpa cannot skip it), and LLM.int8's matmul
    # temporaries (:func:`int8_matmul_transient`).
    """
    a = cache_t.block_bytes
    per_token, query_heads, vocab, shortest_window, sliding, widest_int8 = _terms(spec, report, a)
    b, ctx = settings.batch, settings.context
    tokens = b * ctx
    residual = tokens * per_token[0]
    attention = tokens * per_token[1]
    if attn == "eager":
        attention += b * query_heads * ctx * ctx * (2 * a + 4)
        attention += tokens * per_token[2]  # repeat_kv copies of K and V
    mlp = tokens * per_token[3]
    moe = tokens * per_token[4]
    linear = tokens * per_token[5]
    transient = max(attention, mlp, moe, linear)
    mask = sliding_mask_bytes(shortest_window, ctx, b) if attn == "sdpa" else 0
    int8 = tokens * widest_int8
    logits = b * vocab * (a + 4)
    retention = transformers_sliding_retention(spec, cache_t, ctx, b) if sliding else 0
    prefill = residual + transient + mask + int8 + logits
    factor = constant("transformers_activation_factor")
    point, low, high = factor.scale(prefill)
    # the last of the four terms equal to the largest names it (as a dict literal keyed by value would)
    which = (
        "linear_mixer"
        if linear == transient
        else "moe_experts"
        if moe == transient
        else "mlp"
        if mlp == transient
        else "attention"
    )
    parts = {"residual_stream": residual, which: transient, "logits": logits}
    if mask:
        parts["sliding_window_mask"] = mask
    if int8:
        parts["int8_matmul"] = int8
    if retention:
        parts["sliding_prefill_retention"] = retention
    scale = point / prefill if prefill else 1.0
    parts = {k: round(v * scale) if k != "sliding_prefill_retention" else v for k, v in parts.items()}
    total = sum(parts.values())

    # the rule text is made on first read, from plain numbers (no closure kept per estimate)
    rule = partial(
        _rule,
        b,
        ctx,
        attn,
        residual,
        attention,
        mlp,
        moe,
        linear,
        mask,
        int8,
        logits,
        factor.value,
        retention,
    )

    return empirical(
        total,
        low + retention,
        high + retention,
        rule,
        keys=(
            "context",
            "batch",
            "hidden_size",
            "intermediate_size",
            "vocab_size",
            "num_attention_heads",
        ),
        source=f"{SOURCE}; {factor.source}",
        parts=parts,
    )


def _rule(
    b: int,
    ctx: int,
    attn: str,
    residual: int,
    attention: int,
    mlp: int,
    moe: int,
    linear: int,
    mask: int,
    int8: int,
    logits: int,
    factor: float,
    retention: int,
) -> str:
    """The activation figure's rule text."""
    return (
        f"prefill of {b} x {ctx:,} tokens ({attn}): residual {format_short(residual)} + "
        f"max(attention {format_short(attention)}, mlp {format_short(mlp)}"
        + (f", moe {format_short(moe)}" if moe else "")
        + (f", mixer {format_short(linear)}" if linear else "")
        + ")"
        + (f" + sliding-window mask {format_short(mask)}" if mask else "")
        + (f" + LLM.int8 matmul {format_short(int8)}" if int8 else "")
        + f" + last-token logits {format_short(logits)} (logits_to_keep=1, fp32 copy)"
        + (f" x {factor:g}" if factor != 1 else "")
        + (
            f" + sliding layers pin the prompt's K/V until the first decode step {format_short(retention)}"
            if retention
            else ""
        )
    )


@per_object(objects=2)
def _terms(
    spec: ModelSpec, report: WeightsReport, a: int
) -> tuple[tuple[int, int, int, int, int, int], int, int, int, bool, int]:
    """What :func:`activations_figure` reads of the model and weights, for activations of ``a`` bytes: the
    per-token bytes (:func:`_per_token`), query heads, vocabulary, the shortest sliding window (0: none),
    whether any layer slides, and :func:`int8_matmul_transient` per prompt row (0 unless bnb-int8)."""
    shape = model_shape(spec)
    windows = sliding_windows(spec)
    return (
        _per_token(shape, a),
        shape.query_heads,
        shape.vocab,
        min(windows) if windows else 0,
        AttentionKind.SLIDING in attention_kinds(spec),
        int8_matmul_transient(report, 1),
    )


@per_object()
def _per_token(shape: ModelShape, a: int) -> tuple[int, int, int, int, int, int]:
    """Bytes per prompt token of: the residual stream, attention, eager's repeat_kv copies, the MLP, routed
    experts (top_k pairs) and a linear mixer, for activations of ``a`` bytes (the shape is frozen)."""
    q_width = shape.query_heads * shape.head_dim
    kv = shape.mla_expand or shape.kv_dim
    moe = 0
    if shape.expert_ffn and shape.top_k:
        moe = shape.top_k * (max(shape.hidden + 4 * shape.expert_ffn, 4 * shape.hidden) * a + 3 * 8)
    return (
        shape.hidden * (2 * a + 4),
        (2 * q_width + 2 * kv + shape.hidden) * a,
        2 * q_width * a,
        3 * shape.ffn * a,
        moe,
        3 * shape.ssm_in * a,
    )


def sliding_mask_bytes(shortest_window: int, context: int, batch: int) -> int:
    """The boolean ``[batch, 1, context, context]`` mask SDPA gets for sliding layers (``shortest_window``
    is the model's shortest sliding window, 0 without sliding layers).

    # NOTE: masking_utils.sdpa_mask returns None (SDPA's ``is_causal``) for full causal layers
    # without padding, but ``_ignore_causal_mask_sdpa`` refuses once ``kv_length >=
    # local_attention_size``, so a prompt longer than the window materializes one bool mask
    # (1 byte an element, expanded to the batch by generate()'s all-ones attention_mask).
    """
    if not shortest_window or context < shortest_window:
        return 0
    return batch * context * context


def int8_matmul_transient(report: WeightsReport, tokens: int) -> int:
    """LLM.int8's temporaries for the widest quantized linear layer at ``tokens`` rows.

    # NOTE: bitsandbytes autograd/_functions.py MatMul8bitLt.forward and backends/cuda/ops.py:
    # ``A.to(torch.float16)`` (2 B), the int8 row-quantized copy ``CA`` (1 B) and the outlier
    # mask ``A.abs() >= threshold`` (1 B) per input element; the int32 product (4 B) and its
    # dequantized output (2 B) per output element. Outlier columns (data dependent) are not counted.
    """
    if report.format_id != "bnb-int8":
        return 0
    return tokens * _int8_widest(report)


@per_object()
def _int8_widest(report: WeightsReport) -> int:
    """``4 x in_features + 6 x out_features`` of the widest quantized linear layer."""
    widest = 0
    for t in report.tensors:
        if t.quantized and len(t.group.shape) == 2:
            out_f, in_f = t.group.shape
            widest = max(widest, 4 * in_f + 6 * out_f)
    return widest
