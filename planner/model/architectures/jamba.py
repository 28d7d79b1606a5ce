"""AI21 Jamba (``jamba``: Jamba v0.1, Jamba 1.5 Mini/Large): Mamba-1 layers with one attention layer
every ``attn_layer_period``, and routed experts every ``expert_layer_period`` layers.

Sources: transformers ``models/jamba/{configuration,modeling}_jamba.py`` (``JambaConfig.layers_block_type``,
``layers_num_experts``, ``JambaMambaMixer``, ``JambaAttention``, ``JambaSparseMoeBlock``) and
``conversion_mapping.py`` (``jamba`` per-expert checkpoint names), transformers 5.x.
"""

from __future__ import annotations

from typing import Any

from planner.errors import InvalidFieldError
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
from planner.model.architectures.mamba import (
    add_mamba1_mixer,
    expanded_width,
    mamba1_state_elements,
    time_step_rank,
)
from planner.model.builder import SpecBuilder
from planner.model.config import LIMITS, ConfigView
from planner.model.spec import AttentionKind, LayerSpec, ModelSpec, Role


def _period(cfg: ConfigView, period_key: str, offset_key: str, default: tuple[int, int]) -> tuple[int, int]:
    """A ``(period, offset)`` pair; transformers rejects an offset not below its period."""
    period = cfg.int(period_key, default[0], maximum=LIMITS["layers"])
    offset = cfg.int(offset_key, default[1], minimum=0, maximum=LIMITS["layers"])
    if offset >= period:
        raise InvalidFieldError(offset_key, f"is {offset}; it must be smaller than {period_key} ({period})")
    return period, offset


def jamba_block_types(cfg: ConfigView, n: int) -> list[str]:
    """``"attention"`` or ``"mamba"`` per layer: layer ``i`` attends when ``i % period == offset``.

    # NOTE: transformers derives layers_block_type from attn_layer_period/offset only (a read-only
    # property there: a config.json that sets it does not even load); a config that spells the
    # list out is read as given.
    """
    listed = cfg.str_list("layers_block_type", n)
    if listed is not None:
        for i, t in enumerate(listed):
            if t not in ("attention", "mamba"):
                raise InvalidFieldError(
                    f"layers_block_type[{i}]", f"is '{t:.40}', not 'attention' or 'mamba'"
                )
        return listed
    period, offset = _period(cfg, "attn_layer_period", "attn_layer_offset", (8, 4))
    return ["attention" if i % period == offset else "mamba" for i in range(n)]


@register("jamba")
def build_jamba(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """Jamba: embeddings, Mamba-1 / attention layers each followed by an MLP or MoE, final norm."""
    b = SpecBuilder(cfg, "jamba")
    hidden = cfg.int("hidden_size")
    vocab = cfg.int("vocab_size", maximum=LIMITS["vocab"])
    n = num_layers(cfg)
    heads, kv_heads, head_dim = attention_heads(cfg)
    inter = cfg.int("intermediate_size")
    tied = cfg.bool("tie_word_embeddings", False)
    blocks = jamba_block_types(cfg, n)

    # NOTE: JambaConfig maps num_local_experts to num_experts; a layer routes when
    # i % expert_layer_period == expert_layer_offset and there is more than one expert.
    experts_key = "num_experts" if cfg.has("num_experts") else "num_local_experts"
    n_experts = cfg.int(experts_key, 16, minimum=0, maximum=LIMITS["experts"])
    e_period, e_offset = _period(cfg, "expert_layer_period", "expert_layer_offset", (2, 1))
    top_k = 0
    if n_experts > 1:
        top_k = experts_per_token(cfg, n_experts, default=2)

    m_inter = 0
    if "mamba" in blocks:
        m_inter = expanded_width(cfg, "mamba_expand", hidden)
        m_state = cfg.int("mamba_d_state", 16)
        m_kernel = cfg.int("mamba_d_conv", 4, maximum=LIMITS["heads"])
        dt_rank = time_step_rank(cfg, "mamba_dt_rank", hidden)
        state_elements = mamba1_state_elements(m_inter, m_kernel, m_state)

    add_embeddings(b, vocab, hidden, tied=tied)
    b.add_norm("model.final_layernorm", hidden)
    any_moe = False
    for i in range(n):
        p = "model.layers.*"
        sparse = n_experts > 1 and i % e_period == e_offset
        any_moe = any_moe or sparse
        b.add_norm(f"{p}.input_layernorm", hidden, i)
        b.add_norm(f"{p}.pre_ff_layernorm", hidden, i)
        if blocks[i] == "mamba":
            add_mamba1_mixer(
                b,
                i,
                f"{p}.mamba",
                hidden,
                m_inter,
                dt_rank,
                m_state,
                m_kernel,
                proj_bias=cfg.bool("mamba_proj_bias", False),
                conv_bias=cfg.bool("mamba_conv_bias", True),
                inner_norms=True,
            )
            b.layers.append(
                LayerSpec(index=i, attention=AttentionKind.LINEAR, state_elements=state_elements, moe=sparse)
            )
        else:
            # NOTE: Jamba attention has no positional encoding and no biases.
            add_attention(b, i, f"{p}.self_attn", hidden, heads, kv_heads, head_dim)
            b.layers.append(attention_layer(i, AttentionKind.FULL, None, kv_heads, head_dim, moe=sparse))
        ff = f"{p}.feed_forward"
        if sparse:
            b.add_linear(f"{ff}.router", Role.ROUTER, n_experts, hidden, i)
            add_routed_experts(b, i, f"{ff}.experts", hidden, inter, n_experts, top_k)
        else:
            add_gated_mlp(b, i, ff, hidden, inter)
    if m_inter:
        b.note(
            "Mamba layers keep a fixed recurrent state per sequence; only attention layers grow a KV cache"
        )
    return b.build(
        name=name,
        hidden_size=hidden,
        vocab_size=vocab,
        n_experts=n_experts if any_moe else 0,
        n_experts_per_token=top_k if any_moe else 0,
        tied_embeddings=tied,
    )
