"""Seed-OSS (``seed_oss``): ByteDance Seed's GQA decoder.

Llama's layout with separate bias switches: ``attention_bias`` for q/k/v, ``attention_out_bias`` for o,
``mlp_bias`` for the gated MLP, and an explicit ``head_dim``.
Sources: transformers ``models/seed_oss/{configuration,modeling}_seed_oss.py`` (``SeedOssAttention``,
``SeedOssMLP``), transformers 5.x.
"""

from __future__ import annotations

from typing import Any

from planner.model.architectures import register
from planner.model.architectures.common import (
    add_attention,
    add_embeddings,
    add_gated_mlp,
    attention_heads,
    attention_layer,
    num_layers,
)
from planner.model.builder import SpecBuilder
from planner.model.config import LIMITS, ConfigView
from planner.model.spec import AttentionKind, ModelSpec


@register("seed_oss")
def build_seed_oss(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """Read a Seed-OSS config."""
    b = SpecBuilder(cfg, "seed_oss")
    hidden = cfg.int("hidden_size", 4096)
    vocab = cfg.int("vocab_size", 155136, maximum=LIMITS["vocab"])
    n = num_layers(cfg)
    heads, kv_heads, head_dim = attention_heads(cfg)
    tied = cfg.bool("tie_word_embeddings", False)

    add_embeddings(b, vocab, hidden, tied=tied)
    b.add_norm("model.norm", hidden)
    for i in range(n):
        p = "model.layers.*"
        b.add_norm(f"{p}.input_layernorm", hidden, i)
        b.add_norm(f"{p}.post_attention_layernorm", hidden, i)
        add_attention(
            b, i, f"{p}.self_attn", hidden, heads, kv_heads, head_dim,
            qkv_bias=cfg.bool("attention_bias", True), o_bias=cfg.bool("attention_out_bias", False),
        )  # fmt: skip
        add_gated_mlp(
            b, i, f"{p}.mlp", hidden, cfg.int("intermediate_size", 27648), bias=cfg.bool("mlp_bias", False)
        )
        b.layers.append(attention_layer(i, AttentionKind.FULL, None, kv_heads, head_dim))
    return b.build(name=name, hidden_size=hidden, vocab_size=vocab, tied_embeddings=tied)
