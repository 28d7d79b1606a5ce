"""vLLM's activation peak: the torch peak of ``profile_run`` (dummy forward + dummy sampler), banded."""

from __future__ import annotations

from planner.engines.constants import constant, empirical
from planner.engines.shape import model_shape
from planner.hardware.units import format_short
from planner.memory.figure import Figure
from planner.memory.kv import CacheType
from planner.model.spec import ModelSpec, Role

SOURCE = (
    "vllm-project/vllm: vllm/v1/kv_cache_interface.py (page sizes), vllm/v1/core/kv_cache_utils.py "
    "(hybrid groups), vllm/v1/worker/gpu_worker.py + gpu_model_runner.py (profile_run, determine_available_memory), "
    "vllm/engine/arg_utils.py (get_batch_defaults)"
)


def activations_figure(spec: ModelSpec, act: CacheType, mnbt: int, max_seqs: int) -> Figure:
    """Torch peak of ``profile_run``: dummy forward of ``mnbt`` tokens, then the dummy sampler.

    # NOTE: calibrate (vllm_activation_factor in data/engines.json).
    # Forward: residual stream [T, hidden] x 2 plus the larger of attention (q, k, v, output;
    # MLA prefill expands K and V per head) and MLP (fused gate_up [T, 2I] + act [T, I]; fused
    # MoE: [T*top_k, 2I + I + hidden] caches + router logits). Sampler (_dummy_sampler_run):
    # logits [max_num_seqs, vocab] in the model dtype, their fp32 copy, fp32 probabilities and one
    # fp32 working tensor of the top-k/top-p masking: dtype + 12 B per vocabulary entry and request
    # (the PyTorch sort path adds ~8 B more). Counted on top of the forward: the Meta-Llama-3-8B
    # profile (8192 tokens, 256 seqs) comes to 1.27 GiB against the 1.26 GiB vLLM logged.
    """
    shape = model_shape(spec)
    a = act.block_bytes
    t = mnbt
    residual = 2 * t * shape.hidden * a
    q_width = shape.query_heads * shape.head_dim
    attention = t * (2 * q_width + shape.kv_dim + shape.hidden) * a
    if shape.mla_expand:
        attention = t * (2 * q_width + 2 * shape.mla_expand + shape.hidden) * a
    mlp = 3 * t * shape.ffn * a
    moe = 0
    if shape.expert_ffn and shape.top_k:
        moe = t * (shape.n_experts * 4 + shape.top_k * (3 * shape.expert_ffn + shape.hidden) * a)
    ssm_in = [g.shape[0] for g in spec.tensors if g.role is Role.SSM_IN and len(g.shape) == 2]
    linear = 2 * t * max(ssm_in) * a if ssm_in else 0
    transient = max(attention, mlp, moe, linear)
    forward = residual + transient
    seqs = min(max_seqs, mnbt)
    sampler = seqs * shape.vocab * (a + 12) + t * shape.hidden * a
    peak = forward + sampler
    factor = constant("vllm_activation_factor")
    point, low, high = factor.scale(peak)
    which = {attention: "attention", mlp: "mlp", moe: "moe_experts", linear: "mamba_mixer"}[transient]
    scale = point / peak if peak else 1.0
    parts = {
        "residual_stream": round(residual * scale),
        which: round(transient * scale),
        "sampler": round(sampler * scale),
    }
    total = sum(parts.values())
    rule = (
        f"profile_run: {t:,}-token dummy forward (residual {format_short(residual)} + max(attention "
        f"{format_short(attention)}, mlp {format_short(mlp)}"
        + (f", fused moe {format_short(moe)}" if moe else "")
        + (f", mamba mixer {format_short(linear)}" if linear else "")
        + f")) + dummy sampler over {seqs} requests x vocab {shape.vocab:,} x {a + 12} B {format_short(sampler)}"
        + (f" x {factor.value:g}" if factor.value != 1 else "")
    )
    return empirical(
        total,
        low,
        high,
        rule,
        keys=("max_num_batched_tokens", "hidden_size", "intermediate_size", "vocab_size"),
        source=f"{SOURCE}; {factor.source}",
        parts=parts,
    )
