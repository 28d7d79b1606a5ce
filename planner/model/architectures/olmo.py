"""OLMo 2 (``olmo2``) and OLMo 3 (``olmo3``).

Post-norm decoders: no input norm, ``post_attention_layernorm`` and ``post_feedforward_layernorm`` after
each block; the q/k RMSNorms span all query / key heads (not one head). OLMo 3 adds sliding-window
attention on three of every four layers (``layer_types``).
Sources: transformers ``models/olmo2/modeling_olmo2.py`` and ``models/olmo3/{configuration,modeling}_olmo3.py``
(``Olmo3Config.__post_init__``), transformers 5.x.
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
    layer_kinds,
    num_layers,
)
from planner.model.builder import SpecBuilder
from planner.model.config import LIMITS, ConfigView
from planner.model.spec import ModelSpec


@register("olmo2", "olmo3")
def build_olmo(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """Read an OLMo 2 or OLMo 3 config."""
    b = SpecBuilder(cfg, "olmo")
    hidden = cfg.int("hidden_size", 4096)
    vocab = cfg.int("vocab_size", 50304, maximum=LIMITS["vocab"])
    n = num_layers(cfg)
    heads, kv_heads, head_dim = attention_heads(cfg)
    bias = cfg.bool("attention_bias", False)
    tied = cfg.bool("tie_word_embeddings", False)
    window = None
    default = ["full_attention"] * n
    if cfg.architecture == "olmo3":
        window = cfg.opt_int("sliding_window") if "sliding_window" in cfg.raw else 4096
        default = ["sliding_attention" if (i + 1) % 4 else "full_attention" for i in range(n)]
    kinds = layer_kinds(cfg, n, default)

    add_embeddings(b, vocab, hidden, tied=tied)
    b.add_norm("model.norm", hidden)
    for i in range(n):
        p = "model.layers.*"
        add_attention(b, i, f"{p}.self_attn", hidden, heads, kv_heads, head_dim, qkv_bias=bias, o_bias=bias)
        b.add_norm(f"{p}.self_attn.q_norm", heads * head_dim, i)
        b.add_norm(f"{p}.self_attn.k_norm", kv_heads * head_dim, i)
        add_gated_mlp(b, i, f"{p}.mlp", hidden, cfg.int("intermediate_size", 11008))
        b.add_norm(f"{p}.post_attention_layernorm", hidden, i)
        b.add_norm(f"{p}.post_feedforward_layernorm", hidden, i)
        b.layers.append(attention_layer(i, kinds[i], window, kv_heads, head_dim))
    return b.build(name=name, hidden_size=hidden, vocab_size=vocab, tied_embeddings=tied)
