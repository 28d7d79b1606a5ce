"""GLM-4.5 / GLM-4.5-Air / GLM-4.6 / GLM-4.7 (``glm4_moe``).

A GQA decoder (biases on q/k/v only, optional q/k norms, partial rotary) whose first
``first_k_dense_replace`` layers are dense and the rest DeepSeek-V3-style MoE: a sigmoid router with
an ``e_score_correction_bias``, ``n_routed_experts`` routed experts and ``n_shared_experts`` shared
ones of ``moe_intermediate_size`` each.
Sources: transformers ``models/glm4_moe/{configuration,modeling}_glm4_moe.py`` (``Glm4MoeAttention``,
``Glm4MoeTopkRouter``, ``Glm4MoeMoE``, ``Glm4MoeDecoderLayer``), transformers 5.x.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from planner.errors import InvalidFieldError
from planner.model.architectures import register
from planner.model.architectures.common import (
    add_attention,
    add_embeddings,
    add_gated_mlp,
    add_routed_experts,
    attention_layer,
    experts_per_token,
    num_layers,
)
from planner.model.architectures.moe_blocks import add_correction_bias, add_shared_mlp
from planner.model.builder import SpecBuilder
from planner.model.config import LIMITS, ConfigView
from planner.model.spec import AttentionKind, ModelSpec, Role


@dataclass(frozen=True)
class _Geometry:
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    bias: bool
    qk_norm: bool
    first_dense: int
    n_experts: int
    top_k: int


def _add_layer(b: SpecBuilder, cfg: ConfigView, g: _Geometry, i: int) -> bool:
    """Decoder layer ``i``; returns whether it routes to experts."""
    p, hidden = "model.layers.*", g.hidden
    b.add_norm(f"{p}.input_layernorm", hidden, i)
    b.add_norm(f"{p}.post_attention_layernorm", hidden, i)
    # NOTE: attention_bias covers q, k and v; o_proj never has a bias.
    add_attention(
        b, i, f"{p}.self_attn", hidden, g.heads, g.kv_heads, g.head_dim, qkv_bias=g.bias, qk_norm=g.qk_norm
    )
    if i < g.first_dense:
        add_gated_mlp(b, i, f"{p}.mlp", hidden, cfg.int("intermediate_size", 10944))
        return False
    m = f"{p}.mlp"
    inter = cfg.int("moe_intermediate_size", 1408)
    shared = cfg.int("n_shared_experts", 1, minimum=0, maximum=LIMITS["experts"]) * inter
    b.add_linear(f"{m}.gate", Role.ROUTER, g.n_experts, hidden, i)
    add_correction_bias(b, i, f"{m}.gate.e_score_correction_bias", g.n_experts)
    add_routed_experts(b, i, f"{m}.experts", hidden, inter, g.n_experts, g.top_k)
    add_shared_mlp(b, i, f"{m}.shared_experts", hidden, shared)
    return True


def mtp_parameters(cfg: ConfigView, add_layer: Any, n: int, k: int, hidden: int) -> int:
    """Parameters of ``k`` multi-token-prediction layers as DeepSeek-V3 and GLM-4.5 store them.

    # NOTE: each is one more decoder layer (``model.layers.{n}``...) plus ``eh_proj`` [hidden, 2 * hidden],
    # ``enorm``, ``hnorm`` and ``shared_head.norm``; the embedding and head are shared with the model.
    """
    scratch = SpecBuilder(cfg, "mtp")
    for i in range(n, n + k):
        add_layer(scratch, i)
    layers = scratch.build(name="mtp", hidden_size=hidden, vocab_size=1).total_parameters
    return layers + k * (2 * hidden * hidden + 3 * hidden)


@register("glm4_moe")
def build_glm4_moe(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """Read a ``glm4_moe`` config."""
    b = SpecBuilder(cfg, "glm4_moe")
    hidden = cfg.int("hidden_size", 4096)
    vocab = cfg.int("vocab_size", 151552, maximum=LIMITS["vocab"])
    n = num_layers(cfg)
    heads = cfg.int("num_attention_heads", 96, maximum=LIMITS["heads"])
    kv_heads = cfg.int("num_key_value_heads", 8, maximum=LIMITS["heads"])
    if heads % kv_heads:
        raise InvalidFieldError(
            "num_key_value_heads", f"is {kv_heads}, which does not divide num_attention_heads ({heads})"
        )
    tied = cfg.bool("tie_word_embeddings", False)
    first_dense = cfg.int("first_k_dense_replace", 1, minimum=0, maximum=LIMITS["layers"])
    mtp = cfg.int("num_nextn_predict_layers", 0, minimum=0, maximum=LIMITS["layers"])
    n_experts = top_k = 0
    if first_dense < n + mtp:
        n_experts = cfg.int("n_routed_experts", 128, maximum=LIMITS["experts"])
        top_k = experts_per_token(cfg, n_experts, default=8)
    g = _Geometry(
        hidden=hidden,
        heads=heads,
        kv_heads=kv_heads,
        # NOTE: head_dim falls back to hidden_size // heads (42 for the default 4096/96); GLM-4.5 sets 128.
        head_dim=cfg.opt_int("head_dim", maximum=LIMITS["width"]) or hidden // heads,
        bias=cfg.bool("attention_bias", False),
        qk_norm=cfg.bool("use_qk_norm", False),
        first_dense=first_dense,
        n_experts=n_experts,
        top_k=top_k,
    )

    add_embeddings(b, vocab, hidden, tied=tied)
    b.add_norm("model.norm", hidden)
    for i in range(n):
        moe = _add_layer(b, cfg, g, i)
        b.layers.append(attention_layer(i, AttentionKind.FULL, None, kv_heads, g.head_dim, moe=moe))
    if mtp:
        size = mtp_parameters(cfg, lambda s, i: _add_layer(s, cfg, g, i), n, mtp, hidden)
        copies = mtp * 2 * vocab * hidden
        b.note(
            f"the checkpoint also holds {mtp} multi-token-prediction layer(s) (model.layers.{n}.*: "
            f"{size / 1e9:.2f}B parameters, one more decoder layer plus eh_proj and three norms each, and "
            f"{copies / 1e9:.2f}B in their own copies of the embedding and head) that transformers does not "
            "load; not counted"
        )
    routes = any(layer.moe for layer in b.layers)
    return b.build(
        name=name,
        hidden_size=hidden,
        vocab_size=vocab,
        n_experts=n_experts if routes else 0,
        n_experts_per_token=top_k if routes else 0,
        tied_embeddings=tied,
    )
