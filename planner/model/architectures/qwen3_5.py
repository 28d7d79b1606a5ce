"""Qwen3.5 / Qwen3.6 language models (``qwen3_5_text`` dense, ``qwen3_5_moe_text`` MoE).

Qwen3-Next's layout (gated DeltaNet linear attention with a gated full-attention layer every
``full_attention_interval``) with the DeltaNet input projections split in four (``in_proj_qkv``,
``in_proj_z``, ``in_proj_b``, ``in_proj_a``); the MoE variant routes in every layer and adds a gated
shared expert. The image-text wrappers (``qwen3_5``, ``qwen3_5_moe``) keep this model in ``text_config``:
their tensors come from the wrapper's template (vision tower and merger included), the per-layer cache
(DeltaNet state, gated attention KV) from this builder.
Sources: transformers ``models/qwen3_5/{configuration,modeling}_qwen3_5.py`` and
``models/qwen3_5_moe/{configuration,modeling}_qwen3_5_moe.py`` (``Qwen3_5GatedDeltaNet``,
``Qwen3_5Attention``, ``Qwen3_5MoeSparseMoeBlock``, ``Qwen3_5DecoderLayer``), transformers 5.x.
"""

from __future__ import annotations

from typing import Any

from planner.errors import InvalidFieldError
from planner.model import templates
from planner.model.architectures import register
from planner.model.architectures.common import (
    add_embeddings,
    add_gated_mlp,
    add_routed_experts,
    attention_layer,
    experts_per_token,
    num_layers,
)
from planner.model.architectures.moe_blocks import add_shared_mlp
from planner.model.architectures.qwen3_next import (
    _add_gated_attention,
    _deltanet,
    _layer_kinds,
    deltanet_state_elements,
)
from planner.model.architectures.wrapped import with_template_towers
from planner.model.builder import SpecBuilder
from planner.model.config import LIMITS, ConfigView
from planner.model.spec import AttentionKind, LayerSpec, ModelSpec, Role
from planner.model.templated import build_from_template


def _add_deltanet(
    b: SpecBuilder,
    i: int,
    p: str,
    hidden: int,
    k_heads: int,
    v_heads: int,
    k_dim: int,
    v_dim: int,
    kernel: int,
) -> None:
    key_dim, value_dim = k_heads * k_dim, v_heads * v_dim
    conv_dim = 2 * key_dim + value_dim
    b.add_linear(f"{p}.in_proj_qkv", Role.SSM_IN, conv_dim, hidden, i)
    b.add_linear(f"{p}.in_proj_z", Role.SSM_IN, value_dim, hidden, i)
    b.add_linear(f"{p}.in_proj_b", Role.SSM_IN, v_heads, hidden, i)
    b.add_linear(f"{p}.in_proj_a", Role.SSM_IN, v_heads, hidden, i)
    b.add(f"{p}.conv1d.weight", Role.SSM_CONV, (conv_dim, 1, kernel), i)
    b.add(f"{p}.dt_bias", Role.SSM_PARAM, (v_heads,), i)
    b.add(f"{p}.A_log", Role.SSM_PARAM, (v_heads,), i)
    b.add_norm(f"{p}.norm", v_dim, i)
    b.add_linear(f"{p}.out_proj", Role.SSM_OUT, hidden, value_dim, i)


@register("qwen3_5_text", "qwen3_5_moe_text")
def build_qwen3_5(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """A Qwen3.5 language model, dense or MoE."""
    moe = cfg.architecture == "qwen3_5_moe_text"
    b = SpecBuilder(cfg, "qwen3_5")
    hidden = cfg.int("hidden_size", 2048 if moe else 4096)
    vocab = cfg.int("vocab_size", 248320, maximum=LIMITS["vocab"])
    n = num_layers(cfg)
    heads = cfg.int("num_attention_heads", 16, maximum=LIMITS["heads"])
    kv_heads = cfg.int("num_key_value_heads", 2 if moe else 4, maximum=LIMITS["heads"])
    if heads % kv_heads:
        raise InvalidFieldError(
            "num_key_value_heads", f"is {kv_heads}, which does not divide num_attention_heads ({heads})"
        )
    head_dim = cfg.int("head_dim", 256)
    bias = cfg.bool("attention_bias", False)
    tied = cfg.bool("tie_word_embeddings", False)
    kinds = _layer_kinds(cfg, n)
    linear = _deltanet(cfg) if AttentionKind.LINEAR in kinds else None
    n_experts = top_k = 0
    if moe:
        n_experts = cfg.int("num_experts", 256, maximum=LIMITS["experts"])
        top_k = experts_per_token(cfg, n_experts, default=8)

    add_embeddings(b, vocab, hidden, tied=tied)
    b.add_norm("model.norm", hidden)
    for i in range(n):
        p = "model.layers.*"
        b.add_norm(f"{p}.input_layernorm", hidden, i)
        b.add_norm(f"{p}.post_attention_layernorm", hidden, i)
        if kinds[i] is AttentionKind.LINEAR and linear is not None:
            _add_deltanet(b, i, f"{p}.linear_attn", hidden, *linear)
            layer = LayerSpec(
                i, AttentionKind.LINEAR, state_elements=deltanet_state_elements(*linear), moe=moe
            )
        else:
            # NOTE: q_proj is twice as wide: the sigmoid output gate is fused into it (as in Qwen3-Next).
            _add_gated_attention(b, i, f"{p}.self_attn", hidden, heads, kv_heads, head_dim, bias)
            layer = attention_layer(i, AttentionKind.FULL, None, kv_heads, head_dim, moe=moe)
        if moe:
            m = f"{p}.mlp"
            inter = cfg.int("moe_intermediate_size", 512)
            b.add_linear(f"{m}.gate", Role.ROUTER, n_experts, hidden, i)
            add_routed_experts(b, i, f"{m}.experts", hidden, inter, n_experts, top_k)
            shared = cfg.int("shared_expert_intermediate_size", 512, minimum=0)
            add_shared_mlp(b, i, f"{m}.shared_expert", hidden, shared)
            b.add_linear(f"{m}.shared_expert_gate", Role.SHARED_EXPERT_ROUTER, 1, hidden, i)
        else:
            add_gated_mlp(b, i, f"{p}.mlp", hidden, cfg.int("intermediate_size", 12288))
        b.layers.append(layer)

    mtp = cfg.int("mtp_num_hidden_layers", 0, minimum=0, maximum=LIMITS["layers"])
    if mtp:
        b.note(
            f"the checkpoint's {mtp} multi-token-prediction layer(s) (mtp.*) are not loaded by transformers: not counted"
        )
    if linear is not None:
        b.note("gated DeltaNet layers keep a fixed recurrent state per sequence instead of a KV cache")
    return b.build(
        name=name,
        hidden_size=hidden,
        vocab_size=vocab,
        n_experts=n_experts,
        n_experts_per_token=top_k,
        tied_embeddings=tied,
    )


@register("qwen3_5", "qwen3_5_moe")
def build_qwen3_5_wrapper(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """A Qwen3.5 image-text model: this builder's language model, the template's vision tower and merger."""
    wrapper = root.get("model_type")
    if wrapper not in ("qwen3_5", "qwen3_5_moe"):
        wrapper = "qwen3_5_moe" if cfg.architecture.startswith("qwen3_5_moe") else "qwen3_5"
    raw = dict(root, model_type=wrapper)
    vision = raw.get("vision_config")
    if isinstance(vision, dict) and vision.get("model_type") == wrapper:
        # NOTE: the released Qwen3.5 checkpoints name their vision_config's model_type after the
        # wrapper ("qwen3_5", "qwen3_5_moe"); transformers' config classes rename it to the vision
        # type on load (Qwen3_5Config.__post_init__), and so does the planner.
        raw["vision_config"] = dict(vision, model_type=f"{wrapper}_vision")
    if not isinstance(raw.get("text_config"), dict):
        # NOTE: without a text_config transformers builds its default language model, as the template does.
        tpl = templates.find(wrapper, raw)
        if tpl is not None:
            return build_from_template(tpl, raw, name)
    text = build_qwen3_5(ConfigView(cfg.raw, f"{wrapper}_text", cfg.prefix), name, root)
    spec = with_template_towers(wrapper, raw, name, text, "model.language_model")
    return spec if spec is not None else text
