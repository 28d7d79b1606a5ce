"""SmolLM3 (``smollm3``): a Llama decoder whose every ``no_rope_layer_interval``-th layer skips RoPE (NoPE).

Weights are Llama's (the NoPE layers differ only in the forward pass); the head is tied by default, and
with ``use_sliding_window`` the RoPE layers attend in a window (``layer_types``).
Sources: transformers ``models/smollm3/{configuration,modeling}_smollm3.py`` (``SmolLM3Config.__post_init__``),
transformers 5.x.
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


def _default_kinds(cfg: ConfigView, n: int) -> list[str]:
    """Sliding on RoPE layers only when ``use_sliding_window`` and a window are set (SmolLM3Config)."""
    window = cfg.opt_int("sliding_window")
    if not (cfg.bool("use_sliding_window", False) and window):
        return ["full_attention"] * n
    flags = cfg.int_list("no_rope_layers")
    if flags is None or len(flags) != n:
        interval = cfg.int("no_rope_layer_interval", 4, maximum=LIMITS["layers"])
        flags = [int((i + 1) % interval != 0) for i in range(n)]
    # NOTE: transformers slides where ``not no_rope_layers[i]``, i.e. on the NoPE layers.
    return ["sliding_attention" if not flag else "full_attention" for flag in flags]


@register("smollm3")
def build_smollm3(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """Read a SmolLM3 config."""
    b = SpecBuilder(cfg, "smollm3")
    hidden = cfg.int("hidden_size", 2048)
    vocab = cfg.int("vocab_size", 128256, maximum=LIMITS["vocab"])
    n = num_layers(cfg)
    heads, kv_heads, head_dim = attention_heads(cfg)
    bias = cfg.bool("attention_bias", False)
    tied = cfg.bool("tie_word_embeddings", True)
    kinds = layer_kinds(cfg, n, _default_kinds(cfg, n))
    window = cfg.opt_int("sliding_window")

    add_embeddings(b, vocab, hidden, tied=tied)
    b.add_norm("model.norm", hidden)
    for i in range(n):
        p = "model.layers.*"
        b.add_norm(f"{p}.input_layernorm", hidden, i)
        b.add_norm(f"{p}.post_attention_layernorm", hidden, i)
        add_attention(b, i, f"{p}.self_attn", hidden, heads, kv_heads, head_dim, qkv_bias=bias, o_bias=bias)
        add_gated_mlp(
            b, i, f"{p}.mlp", hidden, cfg.int("intermediate_size", 11008), bias=cfg.bool("mlp_bias", False)
        )
        b.layers.append(attention_layer(i, kinds[i], window, kv_heads, head_dim))
    return b.build(name=name, hidden_size=hidden, vocab_size=vocab, tied_embeddings=tied)
