"""Phi-3.5-MoE, Phi-mini-MoE, Phi-tiny-MoE (``phimoe``).

A Mixtral-like decoder with LayerNorms (weight and bias) instead of RMSNorms, optional biases on
every attention projection (``attention_bias``) and on the head (``lm_head_bias``), and one sliding
window on every layer when ``sliding_window`` is set.
Sources: transformers ``models/phimoe/{configuration,modeling}_phimoe.py`` (``PhimoeAttention``,
``PhimoeTopKRouter``, ``PhimoeSparseMoeBlock``, ``PhimoeDecoderLayer``), transformers 5.x.
"""

from __future__ import annotations

from typing import Any

from planner.model.architectures import register
from planner.model.architectures.common import (
    add_attention,
    add_embeddings,
    add_routed_experts,
    attention_heads,
    attention_layer,
    experts_per_token,
    num_layers,
)
from planner.model.builder import SpecBuilder
from planner.model.config import LIMITS, ConfigView
from planner.model.spec import AttentionKind, ModelSpec, Role


@register("phimoe")
def build_phimoe(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """Read a ``phimoe`` config."""
    b = SpecBuilder(cfg, "phimoe")
    hidden = cfg.int("hidden_size", 4096)
    vocab = cfg.int("vocab_size", 32064, maximum=LIMITS["vocab"])
    n = num_layers(cfg)
    heads, kv_heads, head_dim = attention_heads(cfg)
    bias = cfg.bool("attention_bias", False)
    tied = cfg.bool("tie_word_embeddings", False)
    window = cfg.opt_int("sliding_window")
    n_experts = cfg.int("num_local_experts", 16, maximum=LIMITS["experts"])
    top_k = experts_per_token(cfg, n_experts, default=2)
    inter = cfg.int("intermediate_size", 6400)

    add_embeddings(b, vocab, hidden, tied=tied)
    if cfg.bool("lm_head_bias", False):
        b.add("lm_head.bias", Role.BIAS, (vocab,))
    b.add_norm("model.norm", hidden, bias=True)
    for i in range(n):
        p = "model.layers.*"
        b.add_norm(f"{p}.input_layernorm", hidden, i, bias=True)
        b.add_norm(f"{p}.post_attention_layernorm", hidden, i, bias=True)
        add_attention(b, i, f"{p}.self_attn", hidden, heads, kv_heads, head_dim, qkv_bias=bias, o_bias=bias)
        b.add_linear(f"{p}.mlp.router", Role.ROUTER, n_experts, hidden, i)
        # NOTE: the checkpoint names each expert block_sparse_moe.experts.{e}.w1/w3/w2 (gate/up/down).
        add_routed_experts(
            b, i, f"{p}.mlp.experts", hidden, inter, n_experts, top_k, names=("w1", "w3", "w2")
        )
        kind = AttentionKind.SLIDING if window else AttentionKind.FULL
        b.layers.append(attention_layer(i, kind, window, kv_heads, head_dim, moe=True))
    return b.build(
        name=name,
        hidden_size=hidden,
        vocab_size=vocab,
        n_experts=n_experts,
        n_experts_per_token=top_k,
        tied_embeddings=tied,
    )
