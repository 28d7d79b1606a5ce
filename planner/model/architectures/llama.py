"""Llama-style decoders: Llama 2/3.x, Mistral, Mixtral, Qwen2/2.5, Qwen2-MoE, Qwen3, Qwen3-MoE, Phi-3/4.

They share one layout (RMSNorm, rotary attention, gated MLP) and differ in switches
read from the config: biases, fused projections, q/k norms, sliding windows, experts.
Sources: transformers ``models/{llama,mistral,mixtral,qwen2,qwen2_moe,qwen3,qwen3_moe,phi3}``
modeling and configuration files (transformers 5.x).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from planner.model.architectures import register
from planner.model.architectures.common import (
    add_attention,
    add_embeddings,
    add_gated_mlp,
    add_routed_experts,
    attention_heads,
    attention_layer,
    experts_and_top_k,
    layer_kinds,
    num_layers,
    sliding_window,
)
from planner.model.builder import SpecBuilder
from planner.model.config import LIMITS, ConfigView
from planner.model.spec import AttentionKind, ModelSpec, Role


@dataclass(frozen=True)
class _Variant:
    """Per-family switches that the config alone does not say."""

    family: str
    qkv_bias: bool = False  # Qwen2: q/k/v carry biases, o does not
    qk_norm: bool = False  # Qwen3: RMSNorm over each head's q and k
    fused: bool = False  # Phi-3: qkv_proj and gate_up_proj
    sliding_all: bool = False  # Mistral/Mixtral/Phi-3: one window on every layer when set
    moe: str | None = None  # "mixtral" | "qwen"


_VARIANTS = {
    "llama": _Variant("llama"),
    "granite": _Variant("llama"),
    "mistral": _Variant("mistral", sliding_all=True),
    "mixtral": _Variant("mixtral", sliding_all=True, moe="mixtral"),
    "qwen2": _Variant("qwen2", qkv_bias=True),
    "qwen2_moe": _Variant("qwen2_moe", qkv_bias=True, moe="qwen"),
    "qwen3": _Variant("qwen3", qk_norm=True),
    "qwen3_moe": _Variant("qwen3_moe", qk_norm=True, moe="qwen"),
    "phi3": _Variant("phi3", fused=True, sliding_all=True),
}


@register(*_VARIANTS)
def build_llama_like(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """Read any of the llama-style configs in :data:`_VARIANTS`."""
    return build_decoder(cfg, name, _VARIANTS[cfg.architecture])


def build_generic(cfg: ConfigView, name: str) -> ModelSpec:
    """Best effort for an unknown ``model_type`` that has the standard fields.

    Assumes a Llama layout (GQA attention without biases, gated MLP, RMSNorm,
    untied head unless the config says otherwise) and marks the result approximate.
    """
    spec = build_decoder(cfg, name, _Variant("generic"), approximate=True)
    return spec


def _pattern(cfg: ConfigView, v: _Variant, n: int) -> tuple[list[AttentionKind], int | None]:
    window = sliding_window(cfg)
    default = None
    if window is not None:
        if v.sliding_all:
            default = ["sliding_attention"] * n
        elif v.family in ("qwen2", "qwen2_moe", "qwen3", "qwen3_moe"):
            # NOTE: Qwen slides only from layer ``max_window_layers`` on, and only with use_sliding_window.
            first = cfg.int("max_window_layers", n, minimum=0, maximum=LIMITS["layers"])
            if cfg.bool("use_sliding_window", False):
                default = ["full_attention" if i < first else "sliding_attention" for i in range(n)]
    return layer_kinds(cfg, n, default), window


def _is_sparse(cfg: ConfigView, i: int) -> bool:
    """Qwen MoE: layer ``i`` routes unless listed in ``mlp_only_layers`` or off the sparse step."""
    step = cfg.int("decoder_sparse_step", 1, maximum=LIMITS["layers"])
    only_dense = set(cfg.int_list("mlp_only_layers") or [])
    return i not in only_dense and (i + 1) % step == 0


def build_decoder(cfg: ConfigView, name: str, v: _Variant, *, approximate: bool = False) -> ModelSpec:
    """The shared llama-style layout, switched by ``v``."""
    b = SpecBuilder(cfg, v.family)
    hidden = cfg.int("hidden_size")
    vocab = cfg.int("vocab_size", maximum=LIMITS["vocab"])
    n = num_layers(cfg)
    heads, kv_heads, head_dim = attention_heads(cfg)
    attn_bias = cfg.bool("attention_bias", False)
    mlp_bias = cfg.bool("mlp_bias", False)
    tied = cfg.bool("tie_word_embeddings", False)
    kinds, window = _pattern(cfg, v, n)

    n_experts = top_k = 0
    if v.moe == "mixtral":
        n_experts, top_k = experts_and_top_k(cfg, "num_local_experts")
    elif v.moe == "qwen":
        # NOTE: transformers 5.x saves Qwen3-MoE's expert count as num_local_experts (attribute_map).
        key = (
            "num_local_experts"
            if cfg.has("num_local_experts") and not cfg.has("num_experts")
            else "num_experts"
        )
        n_experts, top_k = experts_and_top_k(cfg, key)

    add_embeddings(b, vocab, hidden, tied=tied)
    b.add_norm("model.norm", hidden)
    for i in range(n):
        p = "model.layers.*"
        b.add_norm(f"{p}.input_layernorm", hidden, i)
        b.add_norm(f"{p}.post_attention_layernorm", hidden, i)
        add_attention(
            b,
            i,
            f"{p}.self_attn",
            hidden,
            heads,
            kv_heads,
            head_dim,
            qkv_bias=attn_bias or v.qkv_bias,
            o_bias=attn_bias,
            qk_norm=v.qk_norm,
            fused_qkv="qkv_proj" if v.fused else None,
        )
        sparse = False
        if v.moe == "mixtral":
            sparse = True
            moe = f"{p}.block_sparse_moe"
            b.add_linear(f"{moe}.gate", Role.ROUTER, n_experts, hidden, i)
            inter = cfg.int("intermediate_size")
            add_routed_experts(
                b, i, f"{moe}.experts", hidden, inter, n_experts, top_k, names=("w1", "w3", "w2")
            )
        elif v.moe == "qwen" and _is_sparse(cfg, i):
            sparse = True
            _add_qwen_moe(b, cfg, i, f"{p}.mlp", hidden, n_experts, top_k)
        else:
            inter = cfg.int("intermediate_size")
            add_gated_mlp(b, i, f"{p}.mlp", hidden, inter, bias=mlp_bias, fused=v.fused)
        b.layers.append(attention_layer(i, kinds[i], window, kv_heads, head_dim, moe=sparse))
    if approximate:
        b.note(
            f"'{cfg.architecture}' is not a known architecture: counted as a Llama-style decoder "
            "(GQA attention, gated MLP, RMSNorm); treat the figures as approximate"
        )
    return b.build(
        name=name,
        hidden_size=hidden,
        vocab_size=vocab,
        n_experts=n_experts,
        n_experts_per_token=top_k,
        tied_embeddings=tied,
        approximate=approximate,
    )


def _add_qwen_moe(
    b: SpecBuilder, cfg: ConfigView, i: int, p: str, hidden: int, n_experts: int, top_k: int
) -> None:
    """Qwen2-MoE / Qwen3-MoE block: router, routed experts, optional gated shared expert."""
    inter = cfg.int("moe_intermediate_size")
    b.add_linear(f"{p}.gate", Role.ROUTER, n_experts, hidden, i)
    add_routed_experts(b, i, f"{p}.experts", hidden, inter, n_experts, top_k)
    shared = cfg.opt_int("shared_expert_intermediate_size", minimum=0, maximum=LIMITS["width"])
    if shared:
        b.add_linear(f"{p}.shared_expert.gate_proj", Role.SHARED_EXPERT_GATE, shared, hidden, i)
        b.add_linear(f"{p}.shared_expert.up_proj", Role.SHARED_EXPERT_UP, shared, hidden, i)
        b.add_linear(f"{p}.shared_expert.down_proj", Role.SHARED_EXPERT_DOWN, hidden, shared, i)
        b.add_linear(f"{p}.shared_expert_gate", Role.SHARED_EXPERT_ROUTER, 1, hidden, i)
