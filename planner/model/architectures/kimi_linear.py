"""Kimi Linear (``kimi_linear``): Kimi Delta Attention (KDA) layers with a MLA layer every few layers.

KDA layers: q/k/v projections to ``linear_num_heads * linear_head_dim``, one depthwise short conv over all
three, a low-rank forget gate (``f_a_proj``/``f_b_proj``, ``dt_bias``, ``A_log``), a beta projection, a
low-rank output gate (``g_a_proj``/``g_b_proj``), a gated RMSNorm over one head and ``o_proj``; each keeps
a conv window and a ``[heads, head_dim, head_dim]`` state per sequence. Full layers are DeepSeek MLA
(NoPE), caching the KV latent. MLPs are dense for the first layers and DeepSeek-style MoE after.
The checkpoint keeps the linear-attention settings in ``linear_attn_config`` (1-indexed layer lists).
Sources: transformers ``models/kimi_linear/{configuration,modeling}_kimi_linear.py``
(``KimiLinearConfig.__post_init__``, ``KimiDeltaAttention``, ``KimiLinearForgetGate``, ``KimiLinearMoE``),
transformers 5.x.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planner.errors import InvalidFieldError
from planner.model.architectures import register
from planner.model.architectures.common import add_embeddings, add_gated_mlp, add_routed_experts, num_layers
from planner.model.architectures.deepseek import _add_mla, _Mla
from planner.model.architectures.moe_blocks import add_correction_bias, add_shared_mlp
from planner.model.builder import SpecBuilder
from planner.model.config import LIMITS, ConfigView
from planner.model.spec import AttentionKind, LayerSpec, ModelSpec, Role


def _pick(cfg: ConfigView, *keys: str) -> str:
    """The first of ``keys`` present (transformers saves the attribute_map spelling)."""
    return next((k for k in keys if cfg.has(k)), keys[0])


def _linear_settings(cfg: ConfigView, n: int) -> tuple[list[str], int, int, int]:
    """``(layer_types, heads, head_dim, conv_kernel)``; ``linear_attn_config`` wins over flat fields."""
    sub = cfg.raw.get("linear_attn_config") or {}
    if not isinstance(sub, Mapping):
        raise InvalidFieldError("linear_attn_config", "must be an object")
    lin = ConfigView(sub, cfg.architecture, prefix=f"{cfg.prefix}linear_attn_config.")
    heads = lin.int(
        "num_heads", cfg.int("linear_num_heads", 32, maximum=LIMITS["heads"]), maximum=LIMITS["heads"]
    )
    head_dim = lin.int("head_dim", cfg.int("linear_head_dim", 128))
    kernel = lin.int("short_conv_kernel_size", cfg.int("linear_conv_kernel_dim", 4, maximum=LIMITS["heads"]))
    types = cfg.str_list("layer_types", n)
    if types is None and "full_attn_layers" in sub and "kda_layers" in sub:
        types = ["linear_attention"] * n
        for i in lin.int_list("full_attn_layers") or []:
            if not 1 <= i <= n:
                raise InvalidFieldError("linear_attn_config.full_attn_layers", f"has {i}; layers are 1..{n}")
            types[i - 1] = "full_attention"  # NOTE: 1-indexed in the checkpoint
    if types is None:
        types = ["full_attention" if i and i % 4 == 0 else "linear_attention" for i in range(n)]
    for i, t in enumerate(types):
        if t not in ("full_attention", "linear_attention"):
            raise InvalidFieldError(f"layer_types[{i}]", "must be 'full_attention' or 'linear_attention'")
    return types, heads, head_dim, kernel


def _add_kda(b: SpecBuilder, i: int, p: str, hidden: int, heads: int, head_dim: int, kernel: int) -> None:
    qkv = heads * head_dim
    for proj, role in (("q_proj", Role.SSM_IN), ("k_proj", Role.SSM_IN), ("v_proj", Role.SSM_IN)):
        b.add_linear(f"{p}.{proj}", role, qkv, hidden, i)
    b.add(f"{p}.conv1d.weight", Role.SSM_CONV, (3 * qkv, 1, kernel), i)
    f = f"{p}.forget_gate"
    b.add_linear(f"{f}.f_a_proj", Role.SSM_IN, head_dim, hidden, i)
    b.add_linear(f"{f}.f_b_proj", Role.SSM_IN, qkv, head_dim, i)
    b.add(f"{f}.dt_bias", Role.SSM_PARAM, (qkv,), i)
    b.add(f"{f}.A_log", Role.SSM_PARAM, (1, 1, heads, 1), i)
    b.add_linear(f"{p}.b_proj", Role.SSM_IN, heads, hidden, i)
    b.add_linear(f"{p}.g_a_proj", Role.ATTN_GATE, head_dim, hidden, i)
    b.add_linear(f"{p}.g_b_proj", Role.ATTN_GATE, qkv, head_dim, i)
    b.add_norm(f"{p}.o_norm", head_dim, i)
    b.add_linear(f"{p}.o_proj", Role.SSM_OUT, hidden, qkv, i)


@register("kimi_linear")
def build_kimi_linear(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """Read a Kimi Linear config."""
    b = SpecBuilder(cfg, "kimi_linear")
    hidden = cfg.int("hidden_size", 2304)
    vocab = cfg.int("vocab_size", 163840, maximum=LIMITS["vocab"])
    n = num_layers(cfg)
    tied = cfg.bool("tie_word_embeddings", False)
    types, lin_heads, lin_dim, kernel = _linear_settings(cfg, n)
    q_lora = cfg.opt_int("q_lora_rank")
    mla = _Mla(
        heads=cfg.int("num_attention_heads", 32, maximum=LIMITS["heads"]),
        q_lora_rank=q_lora or None,
        kv_lora_rank=cfg.int("kv_lora_rank", 512),
        qk_nope_head_dim=cfg.int("qk_nope_head_dim", 128, minimum=0),
        qk_rope_head_dim=cfg.int("qk_rope_head_dim", 64),
        v_head_dim=cfg.int("v_head_dim", 128),
    )
    mlp_types = cfg.str_list("mlp_layer_types", n)
    if mlp_types is None:
        first = cfg.int("first_k_dense_replace", 1, minimum=0, maximum=LIMITS["layers"])
        mlp_types = ["dense" if i < first else "sparse" for i in range(n)]
    n_experts = top_k = 0
    if "sparse" in mlp_types:
        n_experts = cfg.int(_pick(cfg, "num_experts", "num_local_experts"), 256, maximum=LIMITS["experts"])
        top_k = cfg.int(
            _pick(cfg, "num_experts_per_token", "num_experts_per_tok"), 8, maximum=LIMITS["experts"]
        )
        if top_k > n_experts:
            raise InvalidFieldError("num_experts_per_token", f"is {top_k}, more than the {n_experts} experts")
    attn_bias = cfg.bool("attention_bias", False)
    kda_state = 3 * lin_heads * lin_dim * kernel + lin_heads * lin_dim * lin_dim

    add_embeddings(b, vocab, hidden, tied=tied)
    b.add_norm("model.norm", hidden)
    for i in range(n):
        p = "model.layers.*"
        b.add_norm(f"{p}.input_layernorm", hidden, i)
        b.add_norm(f"{p}.post_attention_layernorm", hidden, i)
        moe = mlp_types[i] == "sparse"
        if types[i] == "linear_attention":
            _add_kda(b, i, f"{p}.self_attn", hidden, lin_heads, lin_dim, kernel)
            # NOTE: conv window [3 * heads * head_dim, kernel] plus the delta-rule state [heads, head_dim, head_dim].
            layer = LayerSpec(i, AttentionKind.LINEAR, state_elements=kda_state, moe=moe)
        else:
            _add_mla(b, i, f"{p}.self_attn", hidden, mla, bias=attn_bias)
            layer = LayerSpec(i, AttentionKind.MLA, latent_dim=mla.latent_dim, moe=moe)
        if moe:
            m = f"{p}.mlp"
            inter = cfg.int("moe_intermediate_size", 1024)
            b.add_linear(f"{m}.gate", Role.ROUTER, n_experts, hidden, i)
            add_correction_bias(b, i, f"{m}.gate.e_score_correction_bias", n_experts)
            add_routed_experts(b, i, f"{m}.experts", hidden, inter, n_experts, top_k)
            shared = cfg.int(
                _pick(cfg, "num_shared_experts", "n_shared_experts"), 1, minimum=0, maximum=LIMITS["experts"]
            )
            add_shared_mlp(b, i, f"{m}.shared_experts", hidden, shared * inter)
        else:
            add_gated_mlp(b, i, f"{p}.mlp", hidden, cfg.int("intermediate_size", 9216))
        b.layers.append(layer)
    b.note(
        "KDA layers keep a fixed conv window and delta-rule state per sequence; MLA layers cache one latent per token"
    )
    return b.build(
        name=name,
        hidden_size=hidden,
        vocab_size=vocab,
        n_experts=n_experts,
        n_experts_per_token=top_k,
        tied_embeddings=tied,
    )
