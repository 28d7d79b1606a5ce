"""Falcon-H1 (``falcon_h1``): every layer runs a Mamba-2 mixer and GQA attention side by side.

Both branches read the same normed input and their outputs are summed, then a gated MLP; so each
layer keeps a Mamba-2 state *and* a KV cache (transformers' ``hybrid`` cache layer). The mixer's
width is ``mamba_d_ssm`` (else ``mamba_expand * hidden_size``); its gated RMSNorm exists only with
``mamba_rms_norm``; ``projectors_bias`` sets the mixer's ``out_proj`` bias.
Sources: transformers ``models/falcon_h1/{configuration,modeling}_falcon_h1.py`` (``FalconH1Mixer``,
``FalconH1Attention``, ``FalconH1DecoderLayer``) and ``cache_utils.py``
(``LinearAttentionAndFullAttentionLayer``), transformers 5.x.
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
    num_layers,
)
from planner.model.architectures.mamba2 import check_mamba2_geometry, mamba2_conv_dim, mamba2_state_elements
from planner.model.builder import SpecBuilder
from planner.model.config import LIMITS, ConfigView
from planner.model.spec import AttentionKind, LayerSpec, ModelSpec, Role


def _geometry(cfg: ConfigView, hidden: int) -> tuple[int, int, int, int, int, int]:
    """``(intermediate, heads, head_dim, groups, state, conv_kernel)``, FalconH1Config defaults."""
    if cfg.has("mamba_d_ssm"):
        intermediate = cfg.int("mamba_d_ssm")
    else:
        intermediate = cfg.int("mamba_expand", 2, maximum=64) * hidden
    heads = cfg.int("mamba_n_heads", 128, maximum=LIMITS["heads"])
    if cfg.raw.get("mamba_d_head") in (None, "auto"):
        head_dim = intermediate // heads
        if head_dim < 1:
            raise InvalidFieldError("mamba_n_heads", f"is {heads}, more than the mixer width {intermediate}")
    else:
        head_dim = cfg.int("mamba_d_head")
    groups = cfg.int("mamba_n_groups", 1, maximum=LIMITS["heads"])
    check_mamba2_geometry(
        intermediate, heads, head_dim, groups, fields=("mamba_n_heads", "mamba_d_head", "mamba_n_groups")
    )
    return (
        intermediate,
        heads,
        head_dim,
        groups,
        cfg.int("mamba_d_state", 256),
        cfg.int("mamba_d_conv", 4, maximum=LIMITS["heads"]),
    )


@register("falcon_h1")
def build_falcon_h1(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """Read a Falcon-H1 config."""
    b = SpecBuilder(cfg, "falcon_h1")
    hidden = cfg.int("hidden_size", 4096)
    vocab = cfg.int("vocab_size", 128000, maximum=LIMITS["vocab"])
    n = num_layers(cfg)
    heads, kv_heads, head_dim = attention_heads(cfg)
    attn_bias = cfg.bool("attention_bias", False)
    tied = cfg.bool("tie_word_embeddings", False)
    inter, m_heads, m_head_dim, groups, state, kernel = _geometry(cfg, hidden)
    conv_dim = mamba2_conv_dim(inter, groups, state)
    proj_bias = cfg.bool("mamba_proj_bias", False)
    rms_norm = cfg.bool("mamba_rms_norm", False)
    state_elements = mamba2_state_elements(inter, groups, state, kernel, m_heads, m_head_dim)

    add_embeddings(b, vocab, hidden, tied=tied)
    b.add_norm("model.final_layernorm", hidden)
    for i in range(n):
        p = "model.layers.*"
        b.add_norm(f"{p}.input_layernorm", hidden, i)
        b.add_norm(f"{p}.pre_ff_layernorm", hidden, i)
        m = f"{p}.mamba"
        b.add_linear(f"{m}.in_proj", Role.SSM_IN, inter + conv_dim + m_heads, hidden, i, bias=proj_bias)
        b.add(f"{m}.conv1d.weight", Role.SSM_CONV, (conv_dim, 1, kernel), i)
        if cfg.bool("mamba_conv_bias", True):
            b.add(f"{m}.conv1d.bias", Role.BIAS, (conv_dim,), i)
        for vec in ("dt_bias", "A_log", "D"):
            b.add(f"{m}.{vec}", Role.SSM_PARAM, (m_heads,), i)
        if rms_norm:
            b.add_norm(f"{m}.norm", inter, i)
        b.add_linear(f"{m}.out_proj", Role.SSM_OUT, hidden, inter, i, bias=cfg.bool("projectors_bias", False))
        add_attention(
            b, i, f"{p}.self_attn", hidden, heads, kv_heads, head_dim, qkv_bias=attn_bias, o_bias=attn_bias
        )
        add_gated_mlp(
            b,
            i,
            f"{p}.feed_forward",
            hidden,
            cfg.int("intermediate_size", 14336),
            bias=cfg.bool("mlp_bias", False),
        )
        # NOTE: a parallel hybrid layer caches K and V for every token *and* holds a Mamba-2 state.
        b.layers.append(
            LayerSpec(
                i,
                AttentionKind.FULL,
                kv_heads=kv_heads,
                k_head_dim=head_dim,
                v_head_dim=head_dim,
                state_elements=state_elements,
            )
        )
    b.note("every layer runs attention and a Mamba-2 mixer in parallel: a KV cache plus a fixed Mamba state")
    return b.build(name=name, hidden_size=hidden, vocab_size=vocab, tied_embeddings=tied)
