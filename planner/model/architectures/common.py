"""Pieces shared by decoder architectures: embeddings, attention, MLPs, layer patterns."""

from __future__ import annotations

from planner.errors import InvalidFieldError, UnknownLayerTypeError
from planner.model.builder import SpecBuilder
from planner.model.config import LIMITS, ConfigView
from planner.model.spec import AttentionKind, LayerSpec, Role

#: ``layer_types`` values seen in transformers configs, mapped to attention kinds.
LAYER_TYPE_KINDS: dict[str, AttentionKind] = {
    "full_attention": AttentionKind.FULL,
    "attention": AttentionKind.FULL,
    "global": AttentionKind.FULL,
    "sliding_attention": AttentionKind.SLIDING,
    "sliding_window": AttentionKind.SLIDING,
    "local": AttentionKind.SLIDING,
    "chunked_attention": AttentionKind.SLIDING,
    "linear_attention": AttentionKind.LINEAR,
    "mamba": AttentionKind.LINEAR,
    "mamba2": AttentionKind.LINEAR,
}


def num_layers(cfg: ConfigView) -> int:
    """``num_hidden_layers`` (or a legacy alias), bounded."""
    return cfg.int("num_hidden_layers", maximum=LIMITS["layers"])


def attention_heads(cfg: ConfigView) -> tuple[int, int, int]:
    """``(num_attention_heads, num_key_value_heads, head_dim)``.

    # NOTE: ``head_dim`` is read from the config when present: Gemma (256 with 3072 hidden
    # and 16 heads), Qwen3 and Mistral NeMo set it independently of hidden/heads.
    """
    hidden = cfg.int("hidden_size")
    heads = cfg.int("num_attention_heads", maximum=LIMITS["heads"])
    kv_heads = cfg.int("num_key_value_heads", heads, maximum=LIMITS["heads"])
    if heads % kv_heads:
        raise InvalidFieldError(
            "num_key_value_heads",
            f"is {kv_heads}, which does not divide num_attention_heads ({heads})",
        )
    head_dim = cfg.opt_int("head_dim", maximum=LIMITS["width"]) or hidden // heads
    if head_dim < 1:
        raise InvalidFieldError("num_attention_heads", f"is {heads}, more than hidden_size ({hidden})")
    return heads, kv_heads, head_dim


def layer_kinds(cfg: ConfigView, n_layers: int, default: list[str] | None = None) -> list[AttentionKind]:
    """Attention kind per layer: explicit ``layer_types`` first, else the family's pattern."""
    names = cfg.str_list("layer_types", n_layers) or default or ["full_attention"] * n_layers
    kinds = []
    for i, name in enumerate(names):
        kind = LAYER_TYPE_KINDS.get(name)
        if kind is None:
            raise UnknownLayerTypeError(f"layer_types[{i}]", f"is '{name:.40}', an unknown layer type")
        kinds.append(kind)
    return kinds


def sliding_window(cfg: ConfigView) -> int | None:
    """The configured window, or ``None`` when sliding is off."""
    if not cfg.bool("use_sliding_window", True):
        return None
    return cfg.opt_int("sliding_window")


def add_embeddings(
    b: SpecBuilder,
    vocab: int,
    hidden: int,
    *,
    tied: bool,
    embed_name: str = "model.embed_tokens.weight",
    head_name: str = "lm_head.weight",
) -> None:
    """Token embedding and output head; a tied head shares the embedding and is stored once."""
    b.add(embed_name, Role.EMBEDDING, (vocab, hidden))
    if tied:
        b.note("lm_head is tied to the token embedding and stored once")
    else:
        b.add(head_name, Role.LM_HEAD, (vocab, hidden))


def add_attention(
    b: SpecBuilder,
    i: int,
    prefix: str,
    hidden: int,
    heads: int,
    kv_heads: int,
    head_dim: int,
    *,
    qkv_bias: bool = False,
    o_bias: bool = False,
    qk_norm: bool = False,
    fused_qkv: str | None = None,
) -> None:
    """Multi-head / grouped-query / multi-query attention projections for layer ``i``."""
    q_out, kv_out = heads * head_dim, kv_heads * head_dim
    if fused_qkv:
        b.add_linear(f"{prefix}.{fused_qkv}", Role.ATTN_QKV, q_out + 2 * kv_out, hidden, i, bias=qkv_bias)
    else:
        b.add_linear(f"{prefix}.q_proj", Role.ATTN_Q, q_out, hidden, i, bias=qkv_bias)
        b.add_linear(f"{prefix}.k_proj", Role.ATTN_K, kv_out, hidden, i, bias=qkv_bias)
        b.add_linear(f"{prefix}.v_proj", Role.ATTN_V, kv_out, hidden, i, bias=qkv_bias)
    b.add_linear(f"{prefix}.o_proj", Role.ATTN_OUT, hidden, q_out, i, bias=o_bias)
    if qk_norm:
        b.add_norm(f"{prefix}.q_norm", head_dim, i)
        b.add_norm(f"{prefix}.k_norm", head_dim, i)


def add_gated_mlp(
    b: SpecBuilder,
    i: int,
    prefix: str,
    hidden: int,
    inter: int,
    *,
    bias: bool = False,
    fused: bool = False,
    names: tuple[str, str, str] = ("gate_proj", "up_proj", "down_proj"),
) -> None:
    """SwiGLU/GeGLU MLP: gate and up ``[inter, hidden]``, down ``[hidden, inter]``."""
    gate, up, down = names
    if fused:
        b.add_linear(f"{prefix}.gate_up_proj", Role.MLP_GATE_UP, 2 * inter, hidden, i, bias=bias)
    else:
        b.add_linear(f"{prefix}.{gate}", Role.MLP_GATE, inter, hidden, i, bias=bias)
        b.add_linear(f"{prefix}.{up}", Role.MLP_UP, inter, hidden, i, bias=bias)
    b.add_linear(f"{prefix}.{down}", Role.MLP_DOWN, hidden, inter, i, bias=bias)


def add_routed_experts(
    b: SpecBuilder,
    i: int,
    prefix: str,
    hidden: int,
    inter: int,
    n_experts: int,
    top_k: int,
    *,
    names: tuple[str, str, str] = ("gate_proj", "up_proj", "down_proj"),
    bias: bool = False,
) -> None:
    """``n_experts`` gated MLPs of which ``top_k`` run per token."""
    gate, up, down = names
    kw = {"copies": n_experts, "active": (top_k, n_experts), "bias": bias}
    b.add_linear(f"{prefix}.*.{gate}", Role.EXPERT_GATE, inter, hidden, i, **kw)
    b.add_linear(f"{prefix}.*.{up}", Role.EXPERT_UP, inter, hidden, i, **kw)
    b.add_linear(f"{prefix}.*.{down}", Role.EXPERT_DOWN, hidden, inter, i, **kw)


def experts_and_top_k(
    cfg: ConfigView, experts_key: str, top_k_key: str = "num_experts_per_tok"
) -> tuple[int, int]:
    """Routed experts and how many run per token, checked against each other."""
    n = cfg.int(experts_key, maximum=LIMITS["experts"])
    return n, experts_per_token(cfg, n, top_k_key)


def experts_per_token(
    cfg: ConfigView, n_experts: int, key: str = "num_experts_per_tok", default: int | None = None
) -> int:
    """How many of the ``n_experts`` routed experts run per token (``key``), at most all of them."""
    k = cfg.int(key, default, maximum=LIMITS["experts"])
    if k > n_experts:
        raise InvalidFieldError(key, f"is {k}, more than the {n_experts} experts")
    return k


def attention_layer(
    i: int,
    kind: AttentionKind,
    window: int | None,
    kv_heads: int,
    head_dim: int,
    *,
    moe: bool = False,
    v_head_dim: int | None = None,
) -> LayerSpec:
    """A FULL or SLIDING layer's cache geometry (window only kept for sliding layers)."""
    if kind is AttentionKind.SLIDING and window is None:
        kind = AttentionKind.FULL
    return LayerSpec(
        index=i,
        attention=kind,
        window=window if kind is AttentionKind.SLIDING else None,
        kv_heads=kv_heads,
        k_head_dim=head_dim,
        v_head_dim=head_dim if v_head_dim is None else v_head_dim,
        moe=moe,
    )
