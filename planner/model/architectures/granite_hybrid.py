"""IBM Granite 4.0-H (``granitemoehybrid``): Mamba-2 and attention layers, a shared MLP in every
layer, and optionally routed experts (H-Small, H-Tiny) or none (H-Micro, H-1B, H-350M).

Sources: transformers ``models/granitemoehybrid/{configuration,modeling}_granitemoehybrid.py``
(``GraniteMoeHybridDecoderLayer``, ``GraniteMoeHybridMambaLayer``, ``GraniteMoeHybridMLP``,
``GraniteMoeHybridMoE``), ``conversion_mapping.py`` (``granitemoe`` checkpoint names) and
``configuration_utils.py`` (``_LEGACY_LAYER_TYPE_REMAP``: "mamba"/"attention"), transformers 5.x.
"""

from __future__ import annotations

from typing import Any

from planner.errors import InvalidFieldError
from planner.model.architectures import register
from planner.model.architectures.common import (
    add_attention,
    add_embeddings,
    attention_heads,
    attention_layer,
    experts_per_token,
    layer_kinds,
    num_layers,
)
from planner.model.architectures.mamba import expanded_width
from planner.model.architectures.mamba2 import add_mamba2_mixer, check_mamba2_geometry, mamba2_state_elements
from planner.model.builder import SpecBuilder
from planner.model.config import LIMITS, ConfigView
from planner.model.spec import AttentionKind, LayerSpec, ModelSpec, Role


def _mamba_geometry(cfg: ConfigView, hidden: int) -> tuple[int, int, int, int, int, int]:
    """``(intermediate, heads, head_dim, groups, state, conv_kernel)``, GraniteMoeHybridConfig defaults."""
    intermediate = expanded_width(cfg, "mamba_expand", hidden)
    heads = cfg.int("mamba_n_heads", 128, maximum=LIMITS["heads"])
    if cfg.raw.get("mamba_d_head") in (None, "auto"):
        # NOTE: "auto" (the default) is intermediate // heads, checked below like transformers does.
        head_dim = intermediate // heads
        if head_dim < 1:
            raise InvalidFieldError("mamba_n_heads", f"is {heads}, more than mamba_expand x hidden_size")
    else:
        head_dim = cfg.int("mamba_d_head")
    groups = cfg.int("mamba_n_groups", 1, maximum=LIMITS["heads"])
    check_mamba2_geometry(
        intermediate, heads, head_dim, groups, fields=("mamba_n_heads", "mamba_d_head", "mamba_n_groups")
    )
    state = cfg.int("mamba_d_state", 256)
    kernel = cfg.int("mamba_d_conv", 4, maximum=LIMITS["heads"])
    return intermediate, heads, head_dim, groups, state, kernel


@register("granitemoehybrid")
def build_granite_hybrid(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """Granite 4.0-H: per ``layer_types`` a Mamba-2 mixer or GQA attention, then shared MLP (+ MoE)."""
    b = SpecBuilder(cfg, "granitemoehybrid")
    hidden = cfg.int("hidden_size")
    vocab = cfg.int("vocab_size", maximum=LIMITS["vocab"])
    n = num_layers(cfg)
    heads, kv_heads, head_dim = attention_heads(cfg)
    attn_bias = cfg.bool("attention_bias", False)
    tied = cfg.bool("tie_word_embeddings", False)
    # NOTE: without layer_types every layer is Mamba (GraniteMoeHybridConfig.__post_init__).
    # The published configs say "mamba"/"attention", which transformers remaps to
    # "linear_attention"/"full_attention"; the planner reads both spellings.
    kinds = layer_kinds(cfg, n, ["mamba"] * n)
    for i, kind in enumerate(kinds):
        if kind not in (AttentionKind.LINEAR, AttentionKind.FULL):
            raise InvalidFieldError(
                f"layer_types[{i}]", "must be 'mamba' or 'attention' for granitemoehybrid"
            )
    mamba = _mamba_geometry(cfg, hidden) if AttentionKind.LINEAR in kinds else None

    # NOTE: num_local_experts = 0 is the dense variant (H-Micro): the shared MLP is the only FFN.
    n_experts = cfg.int("num_local_experts", 8, minimum=0, maximum=LIMITS["experts"])
    top_k = expert_inter = 0
    if n_experts:
        top_k = experts_per_token(cfg, n_experts, default=2)
        expert_inter = cfg.int("intermediate_size")
    shared_inter = cfg.int("shared_intermediate_size", 1024, minimum=0)

    add_embeddings(b, vocab, hidden, tied=tied)
    b.add_norm("model.norm", hidden)
    for i in range(n):
        p = "model.layers.*"
        b.add_norm(f"{p}.input_layernorm", hidden, i)
        b.add_norm(f"{p}.post_attention_layernorm", hidden, i)
        if kinds[i] is AttentionKind.LINEAR and mamba is not None:
            intermediate, m_heads, m_head_dim, groups, state, kernel = mamba
            add_mamba2_mixer(
                b,
                i,
                f"{p}.mamba",
                hidden,
                intermediate,
                m_heads,
                groups,
                state,
                kernel,
                proj_bias=cfg.bool("mamba_proj_bias", False),
                conv_bias=cfg.bool("mamba_conv_bias", True),
            )
            layer = LayerSpec(
                index=i,
                attention=AttentionKind.LINEAR,
                moe=n_experts > 0,
                state_elements=mamba2_state_elements(
                    intermediate, groups, state, kernel, m_heads, m_head_dim
                ),
            )
        else:
            # NOTE: attention_bias puts a bias on q, k, v and o alike.
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
            layer = attention_layer(i, AttentionKind.FULL, None, kv_heads, head_dim, moe=n_experts > 0)
        # NOTE: the shared MLP runs for every token, so it is counted as the dense MLP. Its gate and
        # up projections are one fused input_linear [2 * shared_intermediate_size, hidden].
        b.add_linear(f"{p}.shared_mlp.input_linear", Role.MLP_GATE_UP, 2 * shared_inter, hidden, i)
        b.add_linear(f"{p}.shared_mlp.output_linear", Role.MLP_DOWN, hidden, shared_inter, i)
        if n_experts:
            moe = f"{p}.block_sparse_moe"
            b.add_linear(f"{moe}.router.layer", Role.ROUTER, n_experts, hidden, i)
            # NOTE: the checkpoint stacks all experts in one tensor per layer
            # (input_linear [E, 2 * intermediate_size, hidden], output_linear [E, hidden, intermediate_size]);
            # the planner lists them per expert, as for other families.
            kw = {"copies": n_experts, "active": (top_k, n_experts)}
            b.add_linear(f"{moe}.input_linear", Role.EXPERT_GATE_UP, 2 * expert_inter, hidden, i, **kw)
            b.add_linear(f"{moe}.output_linear", Role.EXPERT_DOWN, hidden, expert_inter, i, **kw)
        b.layers.append(layer)

    if cfg.str("position_embedding_type") != "rope":
        b.note("attention layers use no positional encoding (NoPE): position_embedding_type is not 'rope'")
    if mamba is not None:
        b.note("Mamba-2 layers keep a fixed recurrent state per sequence instead of a KV cache")
    return b.build(
        name=name,
        hidden_size=hidden,
        vocab_size=vocab,
        n_experts=n_experts,
        n_experts_per_token=top_k,
        tied_embeddings=tied,
    )
