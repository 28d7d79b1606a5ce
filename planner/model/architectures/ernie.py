"""ERNIE 4.5 (``ernie4_5``: 0.3B dense; ``ernie4_5_moe``: 21B-A3B, 300B-A47B).

A GQA decoder whose every linear layer (and the head) takes a bias when ``use_bias`` is set, tied
embeddings by default; the MoE variant routes in layers ``moe_layer_start_index`` to
``moe_layer_end_index`` on every ``moe_layer_interval``-th layer, with ``moe_num_shared_experts``
shared experts and a float32 router whose ``moe_statics.e_score_correction_bias`` is ``[1, experts]``.
Sources: transformers ``models/ernie4_5/modeling_ernie4_5.py`` and
``models/ernie4_5_moe/{configuration,modeling}_ernie4_5_moe.py`` (``Ernie4_5_MoeConfig.__post_init__``,
``Ernie4_5_MoeStatics``, ``Ernie4_5_MoeSparseMoeBlock``, ``Ernie4_5_MoeDecoderLayer``), transformers 5.x.
"""

from __future__ import annotations

from typing import Any

from planner.model.architectures import register
from planner.model.architectures.common import (
    add_attention,
    add_embeddings,
    add_gated_mlp,
    add_routed_experts,
    attention_heads,
    attention_layer,
    experts_per_token,
    num_layers,
)
from planner.model.architectures.moe_blocks import add_shared_mlp
from planner.model.builder import SpecBuilder
from planner.model.config import LIMITS, ConfigView
from planner.model.spec import AttentionKind, ModelSpec, Role


def _moe_layers(cfg: ConfigView, n: int) -> set[int]:
    """Layers that route: start..end (end -1 or absent: the last layer), every ``interval``-th."""
    start = cfg.int("moe_layer_start_index", 1, minimum=0, maximum=LIMITS["layers"])
    end = cfg.raw.get("moe_layer_end_index", -1)
    end = n - 1 if end in (-1, None) else cfg.int("moe_layer_end_index", minimum=0, maximum=LIMITS["layers"])
    interval = cfg.int("moe_layer_interval", 1, maximum=LIMITS["layers"])
    return {i for i in range(n) if (i + 1) % interval == 0 and start <= i <= end}


@register("ernie4_5", "ernie4_5_moe")
def build_ernie(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """Read an ERNIE 4.5 config (dense or MoE)."""
    moe_family = cfg.architecture == "ernie4_5_moe"
    b = SpecBuilder(cfg, "ernie4_5")
    hidden = cfg.int("hidden_size", 2560 if moe_family else 1024)
    vocab = cfg.int("vocab_size", 103424, maximum=LIMITS["vocab"])
    n = num_layers(cfg)
    heads, kv_heads, head_dim = attention_heads(cfg)
    bias = cfg.bool("use_bias", False)
    tied = cfg.bool("tie_word_embeddings", True)
    moe_layers = _moe_layers(cfg, n) if moe_family else set()
    n_experts = top_k = 0
    if moe_layers:
        n_experts = cfg.int("moe_num_experts", 64, maximum=LIMITS["experts"])
        top_k = experts_per_token(cfg, n_experts, "moe_k", default=6)

    add_embeddings(b, vocab, hidden, tied=tied)
    if bias and moe_family:
        # NOTE: the MoE model's head takes use_bias; the dense model's head never has a bias.
        b.add("lm_head.bias", Role.BIAS, (vocab,))
    b.add_norm("model.norm", hidden)
    for i in range(n):
        p = "model.layers.*"
        b.add_norm(f"{p}.input_layernorm", hidden, i)
        b.add_norm(f"{p}.post_attention_layernorm", hidden, i)
        add_attention(b, i, f"{p}.self_attn", hidden, heads, kv_heads, head_dim, qkv_bias=bias, o_bias=bias)
        moe = i in moe_layers
        if moe:
            m = f"{p}.mlp"
            inter = cfg.int("moe_intermediate_size", 1536)
            b.add_linear(f"{m}.gate", Role.ROUTER, n_experts, hidden, i)
            b.add(f"{m}.gate.moe_statics.e_score_correction_bias", Role.BIAS, (1, n_experts), i)
            add_routed_experts(b, i, f"{m}.experts", hidden, inter, n_experts, top_k)
            shared = cfg.int("moe_num_shared_experts", 2, minimum=0, maximum=LIMITS["experts"]) * inter
            add_shared_mlp(b, i, f"{m}.shared_experts", hidden, shared, bias=bias)
        else:
            add_gated_mlp(b, i, f"{p}.mlp", hidden, cfg.int("intermediate_size", 12288), bias=bias)
        b.layers.append(attention_layer(i, AttentionKind.FULL, None, kv_heads, head_dim, moe=moe))
    mtp = cfg.int("num_nextn_predict_layers", 0, minimum=0, maximum=LIMITS["layers"])
    if mtp:
        b.note(
            f"the checkpoint's {mtp} multi-token-prediction layer(s) are not loaded by transformers: not counted"
        )
    return b.build(
        name=name,
        hidden_size=hidden,
        vocab_size=vocab,
        n_experts=n_experts,
        n_experts_per_token=top_k,
        tied_embeddings=tied,
    )
