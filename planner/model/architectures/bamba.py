"""Bamba (``bamba``): IBM's Mamba-2 / attention hybrid.

Each layer is a Mamba-2 mixer or GQA attention (``attn_layer_indices``), then a gated MLP; norms
``input_layernorm`` and ``pre_ff_layernorm``, a ``final_layernorm``.
Sources: transformers ``models/bamba/{configuration,modeling}_bamba.py`` (``BambaConfig.layers_block_type``,
``BambaMixer``, ``BambaDecoderLayer``), transformers 5.x.
"""

from __future__ import annotations

from typing import Any

from planner.errors import InvalidFieldError
from planner.model.architectures import register
from planner.model.architectures.common import (
    add_attention,
    add_embeddings,
    add_gated_mlp,
    attention_heads,
    attention_layer,
    num_layers,
)
from planner.model.architectures.granite_hybrid import _mamba_geometry
from planner.model.architectures.mamba2 import add_mamba2_mixer, mamba2_state_elements
from planner.model.builder import SpecBuilder
from planner.model.config import LIMITS, ConfigView
from planner.model.spec import AttentionKind, LayerSpec, ModelSpec


def _attention_layers(cfg: ConfigView, n: int) -> set[int]:
    """Attention layers: ``attn_layer_indices``, else the full_attention entries of ``layers_block_type``."""
    indices = cfg.int_list("attn_layer_indices")
    if indices is not None:
        return {i for i in indices if 0 <= i < n}
    for key in ("layers_block_type", "layer_types"):
        names = cfg.str_list(key, n)
        if names is not None:
            for i, t in enumerate(names):
                if t not in ("full_attention", "attention", "linear_attention", "mamba"):
                    raise InvalidFieldError(f"{key}[{i}]", f"is '{t:.40}'; expected attention or mamba")
            return {i for i, t in enumerate(names) if t in ("full_attention", "attention")}
    return set()


@register("bamba")
def build_bamba(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """Read a Bamba config."""
    b = SpecBuilder(cfg, "bamba")
    hidden = cfg.int("hidden_size", 4096)
    vocab = cfg.int("vocab_size", 128000, maximum=LIMITS["vocab"])
    n = num_layers(cfg)
    heads, kv_heads, head_dim = attention_heads(cfg)
    attn_bias = cfg.bool("attention_bias", False)
    tied = cfg.bool("tie_word_embeddings", False)
    attention = _attention_layers(cfg, n)
    mamba = _mamba_geometry(cfg, hidden) if len(attention) < n else None

    add_embeddings(b, vocab, hidden, tied=tied)
    b.add_norm("model.final_layernorm", hidden)
    for i in range(n):
        p = "model.layers.*"
        b.add_norm(f"{p}.input_layernorm", hidden, i)
        b.add_norm(f"{p}.pre_ff_layernorm", hidden, i)
        if i in attention or mamba is None:
            add_attention(
                b,
                i,
                f"{p}.self_attn",
                hidden,
                heads,
                kv_heads,
                head_dim,
                qkv_bias=attn_bias,
                o_bias=attn_bias,
            )
            layer = attention_layer(i, AttentionKind.FULL, None, kv_heads, head_dim)
        else:
            inter, m_heads, m_head_dim, groups, state, kernel = mamba
            add_mamba2_mixer(
                b, i, f"{p}.mamba", hidden, inter, m_heads, groups, state, kernel,
                proj_bias=cfg.bool("mamba_proj_bias", False),
                conv_bias=cfg.bool("mamba_conv_bias", True),
            )  # fmt: skip
            state_elements = mamba2_state_elements(inter, groups, state, kernel, m_heads, m_head_dim)
            layer = LayerSpec(i, AttentionKind.LINEAR, state_elements=state_elements)
        add_gated_mlp(
            b,
            i,
            f"{p}.feed_forward",
            hidden,
            cfg.int("intermediate_size", 14336),
            bias=cfg.bool("mlp_bias", False),
        )
        b.layers.append(layer)
    if mamba is not None:
        b.note("Mamba-2 layers keep a fixed conv + SSM state per sequence instead of a KV cache")
    return b.build(name=name, hidden_size=hidden, vocab_size=vocab, tied_embeddings=tied)
