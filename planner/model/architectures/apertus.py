"""Apertus (``apertus``): the Swiss AI decoder.

A Llama-like decoder with a non-gated MLP (``up_proj``, ``down_proj``) around the xIELU activation, whose
two learned slopes (``alpha_p``, ``alpha_n``) and two constants (``beta``, ``eps``, persistent scalar buffers)
live in every layer; per-head q/k RMSNorms; norms named ``attention_layernorm`` and
``feedforward_layernorm``.
Sources: transformers ``models/apertus/{configuration,modeling}_apertus.py`` and ``activations.py``
(``XIELUActivation``), transformers 5.x.
"""

from __future__ import annotations

from typing import Any

from planner.model.architectures import register
from planner.model.architectures.common import (
    add_attention,
    add_embeddings,
    attention_heads,
    attention_layer,
    num_layers,
)
from planner.model.builder import SpecBuilder
from planner.model.config import LIMITS, ConfigView
from planner.model.spec import AttentionKind, ModelSpec, Role


@register("apertus")
def build_apertus(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """Read an Apertus config."""
    b = SpecBuilder(cfg, "apertus")
    hidden = cfg.int("hidden_size", 4096)
    vocab = cfg.int("vocab_size", 131072, maximum=LIMITS["vocab"])
    n = num_layers(cfg)
    heads, kv_heads, head_dim = attention_heads(cfg)
    bias = cfg.bool("attention_bias", False)
    tied = cfg.bool("tie_word_embeddings", False)
    inter = cfg.int("intermediate_size", 14336)
    xielu = cfg.raw.get("hidden_act", "xielu") == "xielu"

    add_embeddings(b, vocab, hidden, tied=tied)
    b.add_norm("model.norm", hidden)
    for i in range(n):
        p = "model.layers.*"
        b.add_norm(f"{p}.attention_layernorm", hidden, i)
        b.add_norm(f"{p}.feedforward_layernorm", hidden, i)
        add_attention(
            b,
            i,
            f"{p}.self_attn",
            hidden,
            heads,
            kv_heads,
            head_dim,
            qkv_bias=bias,
            o_bias=bias,
            qk_norm=True,
        )
        b.add_linear(f"{p}.mlp.up_proj", Role.MLP_UP, inter, hidden, i)
        b.add_linear(f"{p}.mlp.down_proj", Role.MLP_DOWN, hidden, inter, i)
        if xielu:
            for slope in ("alpha_p", "alpha_n"):
                b.add(f"{p}.mlp.act_fn.{slope}", Role.NORM, (1,), i)
            for const in ("beta", "eps"):
                b.add(f"{p}.mlp.act_fn.{const}", Role.NORM, (), i)
        b.layers.append(attention_layer(i, AttentionKind.FULL, None, kv_heads, head_dim))
    return b.build(name=name, hidden_size=hidden, vocab_size=vocab, tied_embeddings=tied)
