"""The activations of one forward pass over ``tokens`` tokens on one tensor-parallel rank (structural).

What the serving engines' profiling or dry runs allocate while the model runs a batch of
``tokens`` tokens: the residual stream, the larger of the attention projections and the MLP
(vLLM's ``MergedColumnParallelLinear`` gate_up + ``SiluAndMul``; SGLang and TensorRT-LLM run the
same fused layers), and the fused-MoE workspaces (vLLM ``fused_moe.py``
``TritonExperts.workspace_shapes``: workspace1 ``(M, topk, max(N // 2, K))``, workspace2
``(M, topk, max(N, K))``, output ``(M, K)``; SGLang's fused MoE allocates the same caches).
"""

from __future__ import annotations

from planner.engines.constants import empirical
from planner.engines.shape import model_shape
from planner.engines.tensor_parallel import kv_heads_per_rank
from planner.frozen import record
from planner.hardware.units import format_short
from planner.memory.figure import Figure
from planner.model.spec import AttentionKind, ModelSpec

#: vLLM ``VLLM_FUSED_MOE_CHUNK_SIZE`` (vllm/envs.py): fused MoE runs at most this many tokens at once.
MOE_CHUNK_TOKENS = 16 * 1024


@record
class Forward:
    """Bytes of one forward pass on one rank."""

    residual: int  # residual stream and the layer output, [T, hidden] x 2
    transient: int  # the larger of the q/k/v projections and the MLP
    moe_workspace: int  # fused-MoE workspaces (0 for dense models)
    hidden: int  # one [T, hidden] tensor (the hidden states a runner keeps)

    @property
    def peak(self) -> int:
        """Residual + transient + MoE workspaces."""
        return self.residual + self.transient + self.moe_workspace


def forward(spec: ModelSpec, act_bytes: int, *, tp: int, tokens: int) -> Forward:
    """The structural forward activations of ``tokens`` tokens in ``act_bytes``-byte activations."""
    shape = model_shape(spec)
    t, a = tokens, act_bytes
    heads = max(shape.query_heads // tp, 1)
    q_width = heads * shape.head_dim
    attn_layers = [
        layer for layer in spec.layers if layer.attention in (AttentionKind.FULL, AttentionKind.SLIDING)
    ]
    kv_width = max(
        (
            kv_heads_per_rank(layer.kv_heads, tp) * (layer.k_head_dim + layer.v_head_dim)
            for layer in attn_layers
        ),
        default=shape.kv_dim // tp,
    )
    attention = t * (2 * q_width + kv_width) * a
    if shape.mla_expand:
        attention = t * (2 * q_width + 2 * (shape.mla_expand // tp)) * a
    mlp = 3 * t * (shape.ffn // tp) * a if shape.ffn else 0
    moe = 0
    if shape.expert_ffn and shape.top_k:
        m = min(t, MOE_CHUNK_TOKENS)
        n = 2 * (shape.expert_ffn // tp)
        k = shape.hidden
        moe = m * shape.top_k * (max(n // 2, k) + max(n, k)) * a + m * k * a
    hidden = t * shape.hidden * a
    return Forward(2 * hidden, max(attention, mlp), moe, hidden)


def forward_figure(
    spec: ModelSpec,
    act_bytes: int,
    *,
    tokens: int,
    logits_rows: int,
    source: str,
    factor: object | None = None,
) -> Figure:
    """A forward of ``tokens`` tokens plus float32 logits of ``logits_rows`` rows, optionally scaled by an
    empirical constant (``factor``: a :class:`~planner.engines.constants.Constant`)."""
    f = forward(spec, act_bytes, tp=1, tokens=tokens)
    logits = logits_rows * model_shape(spec).vocab * 4
    point = low = high = f.peak + logits
    if factor is not None:
        point, low, high = factor.scale(point)
    return empirical(
        point,
        low,
        high,
        f"forward of {tokens:,} tokens (residual {format_short(f.residual)} + transient {format_short(f.transient)}"
        + (f" + MoE workspaces {format_short(f.moe_workspace)}" if f.moe_workspace else "")
        + f") + float32 logits of {logits_rows:,} row(s) {format_short(logits)}",
        keys=("context", "hidden_size", "intermediate_size", "vocab_size"),
        source=source,
        parts={"forward": f.peak, "logits": logits},
    )


__all__ = ["MOE_CHUNK_TOKENS", "Forward", "forward", "forward_figure"]
