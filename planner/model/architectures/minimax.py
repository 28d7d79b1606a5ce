"""MiniMax-Text-01 / MiniMax-M1 (``minimax``) and MiniMax-M2 / M2.1 / M2.5 (``minimax_m2``).

``minimax``: lightning (linear) attention layers interleaved with softmax attention (``layer_types``,
by default alternating full/linear from layer 0), every layer followed by a Mixtral-style MoE.
A lightning layer has a fused ``qkv_proj``, an ``output_gate``, an RMSNorm over all heads and an
``out_proj``; it keeps a ``[heads, head_dim, head_dim]`` state per sequence instead of a KV cache.
``minimax_m2``: full GQA attention with RMSNorms over all query / key heads (not per head), partial
rotary, and a 256-expert sigmoid-routed MoE with an ``e_score_correction_bias``.
Sources: transformers ``models/minimax/{configuration,modeling}_minimax.py`` (``MiniMaxLightningAttention``,
``MiniMaxCache``) and ``models/minimax_m2/{configuration,modeling}_minimax_m2.py`` (``MiniMaxM2Attention``,
``MiniMaxM2SparseMoeBlock``), transformers 5.x.
"""

from __future__ import annotations

from typing import Any

from planner.errors import InvalidFieldError
from planner.model.architectures import register
from planner.model.architectures.common import (
    add_attention,
    add_embeddings,
    add_routed_experts,
    attention_heads,
    attention_layer,
    experts_per_token,
    layer_kinds,
    num_layers,
)
from planner.model.architectures.moe_blocks import add_correction_bias
from planner.model.builder import SpecBuilder
from planner.model.config import LIMITS, ConfigView
from planner.model.spec import AttentionKind, LayerSpec, ModelSpec, Role

#: The checkpoint's per-expert names (w1 gate, w3 up, w2 down), Mixtral's convention.
_EXPERT_NAMES = ("w1", "w3", "w2")


def _lightning_kinds(cfg: ConfigView, n: int) -> list[AttentionKind]:
    """Full or linear per layer: ``layer_types``, else full on even layers, linear on odd ones."""
    default = ["full_attention" if (i + 1) % 2 else "linear_attention" for i in range(n)]
    kinds = layer_kinds(cfg, n, default)
    for i, kind in enumerate(kinds):
        if kind not in (AttentionKind.FULL, AttentionKind.LINEAR):
            raise InvalidFieldError(f"layer_types[{i}]", "must be 'full_attention' or 'linear_attention'")
    return kinds


def _add_lightning(
    b: SpecBuilder, i: int, p: str, hidden: int, heads: int, head_dim: int, block: int
) -> None:
    inner = heads * head_dim
    b.add_norm(f"{p}.norm", inner, i)
    b.add_linear(f"{p}.qkv_proj", Role.SSM_IN, 3 * inner, hidden, i)
    b.add_linear(f"{p}.out_proj", Role.SSM_OUT, hidden, inner, i)
    b.add_linear(f"{p}.output_gate", Role.ATTN_GATE, inner, hidden, i)
    # NOTE: the per-head decay rates and their block_size tables are persistent buffers (computed from the
    # config, saved with the model, counted by transformers): slope_rate [heads, 1, 1], query/key_decay
    # [heads, block, 1], diagonal_decay [1, heads, block, block].
    b.add(f"{p}.slope_rate", Role.SSM_PARAM, (heads, 1, 1), i)
    b.add(f"{p}.query_decay", Role.SSM_PARAM, (heads, block, 1), i)
    b.add(f"{p}.key_decay", Role.SSM_PARAM, (heads, block, 1), i)
    b.add(f"{p}.diagonal_decay", Role.SSM_PARAM, (1, heads, block, block), i)


@register("minimax")
def build_minimax(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """MiniMax-Text-01: lightning / softmax attention, MoE in every layer."""
    b = SpecBuilder(cfg, "minimax")
    hidden = cfg.int("hidden_size", 4096)
    vocab = cfg.int("vocab_size", 32000, maximum=LIMITS["vocab"])
    n = num_layers(cfg)
    heads, kv_heads, head_dim = attention_heads(cfg)
    tied = cfg.bool("tie_word_embeddings", False)
    kinds = _lightning_kinds(cfg, n)
    window = cfg.opt_int("sliding_window")
    n_experts = cfg.int("num_local_experts", 8, maximum=LIMITS["experts"])
    top_k = experts_per_token(cfg, n_experts, default=2)
    inter = cfg.int("intermediate_size", 14336)
    block = cfg.int("block_size", 256, maximum=LIMITS["width"])

    add_embeddings(b, vocab, hidden, tied=tied)
    b.add_norm("model.norm", hidden)
    for i in range(n):
        p = "model.layers.*"
        b.add_norm(f"{p}.input_layernorm", hidden, i)
        b.add_norm(f"{p}.post_attention_layernorm", hidden, i)
        if kinds[i] is AttentionKind.LINEAR:
            _add_lightning(b, i, f"{p}.self_attn", hidden, heads, head_dim, block)
            # NOTE: MiniMaxCache.linear_cache holds one [batch, heads, head_dim, head_dim] state per layer.
            layer = LayerSpec(
                i,
                AttentionKind.LINEAR,
                state_elements=heads * head_dim * head_dim,
                moe=True,
                state_in_model_dtype=True,
            )
        else:
            add_attention(b, i, f"{p}.self_attn", hidden, heads, kv_heads, head_dim)
            kind = AttentionKind.SLIDING if window else AttentionKind.FULL
            layer = attention_layer(i, kind, window, kv_heads, head_dim, moe=True)
        b.add_linear(f"{p}.mlp.gate", Role.ROUTER, n_experts, hidden, i)
        add_routed_experts(b, i, f"{p}.mlp.experts", hidden, inter, n_experts, top_k, names=_EXPERT_NAMES)
        b.layers.append(layer)
    if AttentionKind.LINEAR in kinds:
        b.note(
            "lightning-attention layers keep a fixed [heads, head_dim, head_dim] state instead of a KV cache"
        )
    return b.build(
        name=name,
        hidden_size=hidden,
        vocab_size=vocab,
        n_experts=n_experts,
        n_experts_per_token=top_k,
        tied_embeddings=tied,
    )


@register("minimax_m2")
def build_minimax_m2(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """MiniMax-M2: full attention with whole-width q/k norms, sigmoid-routed MoE in every layer."""
    b = SpecBuilder(cfg, "minimax_m2")
    hidden = cfg.int("hidden_size", 3072)
    vocab = cfg.int("vocab_size", 200064, maximum=LIMITS["vocab"])
    n = num_layers(cfg)
    heads, kv_heads, head_dim = attention_heads(cfg)
    tied = cfg.bool("tie_word_embeddings", False)
    n_experts = cfg.int("num_local_experts", 256, maximum=LIMITS["experts"])
    top_k = experts_per_token(cfg, n_experts, default=8)
    inter = cfg.int("intermediate_size", 1536)

    add_embeddings(b, vocab, hidden, tied=tied)
    b.add_norm("model.norm", hidden)
    for i in range(n):
        p = "model.layers.*"
        b.add_norm(f"{p}.input_layernorm", hidden, i)
        b.add_norm(f"{p}.post_attention_layernorm", hidden, i)
        add_attention(b, i, f"{p}.self_attn", hidden, heads, kv_heads, head_dim)
        # NOTE: q_norm / k_norm span all heads ([heads * head_dim], [kv_heads * head_dim]), not one head.
        b.add_norm(f"{p}.self_attn.q_norm", heads * head_dim, i)
        b.add_norm(f"{p}.self_attn.k_norm", kv_heads * head_dim, i)
        b.add_linear(f"{p}.mlp.gate", Role.ROUTER, n_experts, hidden, i)
        add_correction_bias(b, i, f"{p}.mlp.e_score_correction_bias", n_experts)
        add_routed_experts(b, i, f"{p}.mlp.experts", hidden, inter, n_experts, top_k, names=_EXPERT_NAMES)
        b.layers.append(attention_layer(i, AttentionKind.FULL, None, kv_heads, head_dim, moe=True))
    mtp = cfg.int("num_mtp_modules", 0, minimum=0, maximum=LIMITS["layers"])
    if mtp and cfg.bool("use_mtp", False):
        b.note(
            f"the checkpoint's {mtp} multi-token-prediction modules are not loaded by transformers: not counted"
        )
    return b.build(
        name=name,
        hidden_size=hidden,
        vocab_size=vocab,
        n_experts=n_experts,
        n_experts_per_token=top_k,
        tied_embeddings=tied,
    )
