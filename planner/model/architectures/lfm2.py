"""LFM2 (``lfm2``): Liquid AI's short-convolution / attention hybrid.

Layers are ``conv`` (a gated depthwise short convolution: ``in_proj`` to three widths, a
``conv_L_cache``-tap conv, ``out_proj``) or GQA attention with per-head q/k RMSNorms and an ``out_proj``;
each is followed by a SwiGLU feed-forward whose width is adjusted from ``intermediate_size``
(``block_auto_adjust_ff_dim``: two thirds, times ``block_ffn_dim_multiplier``, rounded up to
``block_multiple_of``). An ``embedding_norm`` closes the stack; the head is tied by default.
Sources: transformers ``models/lfm2/{configuration,modeling}_lfm2.py`` (``Lfm2Config.__post_init__``,
``Lfm2MLP``, ``Lfm2ShortConv``, ``Lfm2Attention``), transformers 5.x.
"""

from __future__ import annotations

from typing import Any

from planner.errors import InvalidFieldError
from planner.model.architectures import register
from planner.model.architectures.common import add_embeddings, attention_heads, attention_layer, num_layers
from planner.model.builder import SpecBuilder
from planner.model.config import LIMITS, ConfigView
from planner.model.spec import AttentionKind, LayerSpec, ModelSpec, Role


def _kinds(cfg: ConfigView, n: int) -> list[str]:
    """``conv`` or ``full_attention`` per layer: ``layer_types``, else ``full_attn_idxs`` (default: all attention)."""
    names = cfg.str_list("layer_types", n)
    if names is None:
        idxs = cfg.int_list("full_attn_idxs")
        full = set(range(n)) if idxs is None else set(idxs)
        names = ["full_attention" if i in full else "conv" for i in range(n)]
    for i, name in enumerate(names):
        if name not in ("conv", "full_attention"):
            raise InvalidFieldError(f"layer_types[{i}]", "must be 'conv' or 'full_attention'")
    return names


def ff_width(cfg: ConfigView) -> int:
    """The feed-forward width ``Lfm2MLP`` builds (``block_ff_dim`` is the original name of the field)."""
    key = (
        "intermediate_size" if cfg.has("intermediate_size") or not cfg.has("block_ff_dim") else "block_ff_dim"
    )
    inter = cfg.int(key, 12288)
    if cfg.bool("block_auto_adjust_ff_dim", True):
        inter = int(2 * inter / 3)
        multiplier = cfg.raw.get("block_ffn_dim_multiplier", 1.0)
        if multiplier is not None:
            if (
                isinstance(multiplier, bool)
                or not isinstance(multiplier, (int, float))
                or not 0 < multiplier < 1e3
            ):
                raise InvalidFieldError("block_ffn_dim_multiplier", "must be a positive number")
            inter = int(multiplier * inter)
            step = cfg.int("block_multiple_of", 256, maximum=LIMITS["width"])
            inter = step * ((inter + step - 1) // step)
    return inter


@register("lfm2")
def build_lfm2(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """Read an LFM2 config."""
    b = SpecBuilder(cfg, "lfm2")
    hidden = cfg.int("hidden_size", 2560)
    vocab = cfg.int("vocab_size", 65536, maximum=LIMITS["vocab"])
    n = num_layers(cfg)
    kinds = _kinds(cfg, n)
    heads, kv_heads, head_dim = attention_heads(cfg)
    # NOTE: the original configs spell it tie_embedding; transformers reads either.
    tied = cfg.bool("tie_word_embeddings", cfg.bool("tie_embedding", True))
    kernel = cfg.int("conv_L_cache", 3, maximum=LIMITS["heads"])
    conv_bias = cfg.bool("conv_bias", False)
    inter = ff_width(cfg)

    add_embeddings(b, vocab, hidden, tied=tied)
    b.add_norm("model.embedding_norm", hidden)
    for i in range(n):
        p = "model.layers.*"
        b.add_norm(f"{p}.operator_norm", hidden, i)
        b.add_norm(f"{p}.ffn_norm", hidden, i)
        if kinds[i] == "conv":
            c = f"{p}.conv"
            b.add_linear(f"{c}.in_proj", Role.SSM_IN, 3 * hidden, hidden, i, bias=conv_bias)
            b.add(f"{c}.conv.weight", Role.SSM_CONV, (hidden, 1, kernel), i)
            if conv_bias:
                b.add(f"{c}.conv.bias", Role.BIAS, (hidden,), i)
            b.add_linear(f"{c}.out_proj", Role.SSM_OUT, hidden, hidden, i, bias=conv_bias)
            # NOTE: the cache keeps the last conv_L_cache inputs of every channel ([batch, hidden, L]).
            b.layers.append(LayerSpec(i, AttentionKind.LINEAR, state_elements=hidden * kernel))
        else:
            a = f"{p}.self_attn"
            b.add_linear(f"{a}.q_proj", Role.ATTN_Q, heads * head_dim, hidden, i)
            b.add_linear(f"{a}.k_proj", Role.ATTN_K, kv_heads * head_dim, hidden, i)
            b.add_linear(f"{a}.v_proj", Role.ATTN_V, kv_heads * head_dim, hidden, i)
            b.add_linear(f"{a}.out_proj", Role.ATTN_OUT, hidden, heads * head_dim, i)
            b.add_norm(f"{a}.q_layernorm", head_dim, i)
            b.add_norm(f"{a}.k_layernorm", head_dim, i)
            b.layers.append(attention_layer(i, AttentionKind.FULL, None, kv_heads, head_dim))
        f = f"{p}.feed_forward"
        b.add_linear(f"{f}.w1", Role.MLP_GATE, inter, hidden, i)
        b.add_linear(f"{f}.w3", Role.MLP_UP, inter, hidden, i)
        b.add_linear(f"{f}.w2", Role.MLP_DOWN, hidden, inter, i)
    if "conv" in kinds:
        b.note(
            "short-convolution layers keep only their last conv_L_cache inputs per sequence, not a KV cache"
        )
    return b.build(name=name, hidden_size=hidden, vocab_size=vocab, tied_embeddings=tied)
