"""Falcon (``falcon``; legacy ``RefinedWeb`` / ``RefinedWebModel``): Falcon-7B/40B/180B, Falcon2-11B.

A fused ``query_key_value`` projection (multi-head, multi-query, or grouped in the "new
decoder architecture" of 40B/180B), LayerNorms with biases, a GELU MLP
(``dense_h_to_4h``/``dense_4h_to_h``), parallel or sequential attention/MLP, rotary or
ALiBi positions (neither adds parameters) and a head tied to the embedding by default.
Sources: transformers ``models/falcon/{configuration,modeling}_falcon.py`` (transformers 5.x);
legacy field names from TII's original ``configuration_RW.py``.
"""

from __future__ import annotations

from typing import Any

from planner.errors import InvalidFieldError
from planner.model.architectures import register
from planner.model.architectures.common import add_embeddings, attention_layer, num_layers
from planner.model.builder import SpecBuilder
from planner.model.config import LIMITS, ConfigView
from planner.model.spec import AttentionKind, ModelSpec, Role

#: Legacy model types of TII's remote code: "RefinedWeb" (40B) always used the new decoder
#: architecture, "RefinedWebModel" (7B) never did; neither config says so explicitly.
_LEGACY_NEW_ARCH = {"RefinedWeb": True, "RefinedWebModel": False}


@register("falcon", *_LEGACY_NEW_ARCH)
def build_falcon(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """Read a Falcon config (current or legacy field names)."""
    b = SpecBuilder(cfg, "falcon")
    # NOTE: legacy configs say n_embed / n_layer / n_head / n_head_kv; ConfigView's aliases
    # read them. transformers 5 only still maps n_embed, so for such configs the planner
    # follows the field names' meaning, not transformers' defaults.
    hidden = cfg.int("hidden_size")
    vocab = cfg.int("vocab_size", maximum=LIMITS["vocab"])
    n = num_layers(cfg)
    heads = cfg.int("num_attention_heads", maximum=LIMITS["heads"])
    if hidden % heads:
        raise InvalidFieldError(
            "num_attention_heads", f"is {heads}, which does not divide hidden_size ({hidden})"
        )
    head_dim = hidden // heads
    new_arch = _LEGACY_NEW_ARCH.get(cfg.architecture, False) or cfg.bool("new_decoder_architecture", False)
    multi_query = cfg.bool("multi_query", True)
    parallel = cfg.bool("parallel_attn", True)
    bias = cfg.bool("bias", False)
    tied = cfg.bool("tie_word_embeddings", True)
    ffn = cfg.int("ffn_hidden_size", 4 * hidden)
    qkv_out, cache_heads = _qkv(cfg, hidden, heads, head_dim, new_arch=new_arch, multi_query=multi_query)
    norms = _layer_norms(cfg, new_arch=new_arch, parallel=parallel)

    add_embeddings(b, vocab, hidden, tied=tied, embed_name="transformer.word_embeddings.weight")
    b.add_norm("transformer.ln_f", hidden, bias=True)
    for i in range(n):
        p = "transformer.h.*"
        for norm in norms:
            b.add_norm(f"{p}.{norm}", hidden, i, bias=True)
        b.add_linear(f"{p}.self_attention.query_key_value", Role.ATTN_QKV, qkv_out, hidden, i, bias=bias)
        b.add_linear(f"{p}.self_attention.dense", Role.ATTN_OUT, hidden, hidden, i, bias=bias)
        b.add_linear(f"{p}.mlp.dense_h_to_4h", Role.MLP_UP, ffn, hidden, i, bias=bias)
        b.add_linear(f"{p}.mlp.dense_4h_to_h", Role.MLP_DOWN, hidden, ffn, i, bias=bias)
        b.layers.append(attention_layer(i, AttentionKind.FULL, None, cache_heads, head_dim))

    if new_arch and cache_heads < heads:
        b.note(
            f"transformers' Falcon code repeats the {cache_heads} key/value heads to all {heads} heads "
            f"before caching, so under transformers the KV cache is {heads // cache_heads}x the figure "
            "given here (vLLM, TGI and llama.cpp cache the grouped heads)"
        )
    if cfg.bool("alibi", False):
        b.note("ALiBi positions (no rotary embedding): transformers' FlashAttention-2 path refuses ALiBi")
    if tied:
        b.note(
            "TII's published checkpoints also store lm_head.weight, a copy of the tied embedding that the "
            "loaded model does not keep: the Hub's parameter count is higher by vocab_size x hidden_size"
        )
    return b.build(name=name, hidden_size=hidden, vocab_size=vocab, tied_embeddings=tied)


def _qkv(
    cfg: ConfigView, hidden: int, heads: int, head_dim: int, *, new_arch: bool, multi_query: bool
) -> tuple[int, int]:
    """Output width of ``query_key_value`` and the key/value heads per token in the cache."""
    if new_arch:
        # NOTE: num_kv_heads (legacy n_head_kv) only matters in the new architecture; q, k and v
        # are interleaved per group, so the groups must divide the heads.
        kv_heads = cfg.int("num_key_value_heads", heads, maximum=LIMITS["heads"])
        if heads % kv_heads:
            raise InvalidFieldError(
                "num_kv_heads", f"is {kv_heads}, which does not divide num_attention_heads ({heads})"
            )
        return (heads + 2 * kv_heads) * head_dim, kv_heads
    if multi_query:
        return hidden + 2 * head_dim, 1
    return 3 * hidden, heads


def _layer_norms(cfg: ConfigView, *, new_arch: bool, parallel: bool) -> tuple[str, ...]:
    """Which LayerNorms each block has.

    # NOTE: sequential blocks have input_layernorm + post_attention_layernorm; parallel blocks
    # have ln_attn + ln_mlp when num_ln_in_parallel_attn is 2 (the default for the new
    # architecture: 40B, 180B) and a single input_layernorm otherwise (7B, Falcon2-11B sets 1).
    """
    if not parallel:
        return ("input_layernorm", "post_attention_layernorm")
    count = cfg.opt_int("num_ln_in_parallel_attn", maximum=2)
    if count is None and new_arch:
        count = 2
    return ("ln_attn", "ln_mlp") if count == 2 else ("input_layernorm",)
