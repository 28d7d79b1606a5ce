"""The activations of one forward pass over ``tokens`` tokens on one tensor-parallel rank (structural).

What the serving engines' profiling or dry runs allocate while the model runs a batch of
``tokens`` tokens: the residual stream, the larger of the attention projections and the MLP
(vLLM's ``MergedColumnParallelLinear`` gate_up + ``SiluAndMul``; SGLang and TensorRT-LLM run the
same fused layers), and the fused-MoE workspaces (vLLM ``fused_moe.py``
``TritonExperts.workspace_shapes``: workspace1 ``(M, topk, max(N // 2, K))``, workspace2
``(M, topk, max(N, K))``, output ``(M, K)``; SGLang's fused MoE allocates the same caches).
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.engines.constants import model_shape
from planner.model.spec import AttentionKind, ModelSpec
from planner.serving.tp import kv_heads_per_rank

#: vLLM ``VLLM_FUSED_MOE_CHUNK_SIZE`` (vllm/envs.py): fused MoE runs at most this many tokens at once.
MOE_CHUNK_TOKENS = 16 * 1024


@dataclass(frozen=True, slots=True)
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


__all__ = ["MOE_CHUNK_TOKENS", "Forward", "forward"]
