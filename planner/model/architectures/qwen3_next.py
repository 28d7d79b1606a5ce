"""Qwen3-Next (``qwen3_next``): gated DeltaNet linear-attention layers with a gated full-attention
layer every ``full_attention_interval``, and a high-sparsity MoE with a gated shared expert.

Sources: transformers ``models/qwen3_next/{configuration,modeling}_qwen3_next.py``
(``Qwen3NextConfig.__post_init__``, ``Qwen3NextGatedDeltaNet``, ``Qwen3NextAttention``,
``Qwen3NextSparseMoeBlock``, ``Qwen3NextDecoderLayer``), ``cache_utils.py`` (``LinearAttentionLayer``)
and ``conversion_mapping.py`` (``qwen2_moe`` per-expert checkpoint names), transformers 5.x.
"""

from __future__ import annotations

from typing import Any

from planner.errors import InvalidFieldError
from planner.model.architectures import register
from planner.model.architectures.common import (
    add_embeddings,
    add_gated_mlp,
    add_routed_experts,
    attention_layer,
    experts_per_token,
    layer_kinds,
    num_layers,
)
from planner.model.builder import SpecBuilder
from planner.model.config import LIMITS, ConfigView
from planner.model.spec import AttentionKind, LayerSpec, ModelSpec, Role


def _layer_kinds(cfg: ConfigView, n: int) -> list[AttentionKind]:
    """Explicit ``layer_types``, else full attention on every ``full_attention_interval``-th layer."""
    interval = cfg.int("full_attention_interval", 4, maximum=LIMITS["layers"])
    default = ["full_attention" if (i + 1) % interval == 0 else "linear_attention" for i in range(n)]
    kinds = layer_kinds(cfg, n, default)
    for i, kind in enumerate(kinds):
        if kind not in (AttentionKind.LINEAR, AttentionKind.FULL):
            raise InvalidFieldError(
                f"layer_types[{i}]", "must be 'linear_attention' or 'full_attention' for qwen3_next"
            )
    return kinds


def _deltanet(cfg: ConfigView) -> tuple[int, int, int, int, int]:
    """``(key_heads, value_heads, key_head_dim, value_head_dim, conv_kernel)``, Qwen3NextConfig defaults."""
    k_heads = cfg.int("linear_num_key_heads", 16, maximum=LIMITS["heads"])
    v_heads = cfg.int("linear_num_value_heads", 32, maximum=LIMITS["heads"])
    k_dim = cfg.int("linear_key_head_dim", 128)
    v_dim = cfg.int("linear_value_head_dim", 128)
    kernel = cfg.int("linear_conv_kernel_dim", 4, maximum=LIMITS["heads"])
    # NOTE: each key head serves v_heads / k_heads value heads (fix_query_key_value_ordering).
    if v_heads % k_heads:
        raise InvalidFieldError(
            "linear_num_value_heads", f"is {v_heads}, not a multiple of linear_num_key_heads ({k_heads})"
        )
    return k_heads, v_heads, k_dim, v_dim, kernel


def deltanet_state_elements(k_heads: int, v_heads: int, k_dim: int, v_dim: int, kernel: int) -> int:
    """Per-sequence state of one gated DeltaNet layer: conv window plus the recurrent matrix.

    # NOTE: transformers' ``LinearAttentionLayer`` holds the conv state as ``[batch, conv_dim, kernel]``
    # with conv_dim = 2 * k_heads * k_dim + v_heads * v_dim (``update_conv_state`` with
    # ``conv_kernel_size=linear_conv_kernel_dim``), and the recurrent state as
    # ``[batch, v_heads, k_dim, v_dim]`` (``torch_chunk_gated_delta_rule``'s final state). vLLM keeps
    # ``kernel - 1`` conv columns; the planner follows transformers.
    """
    conv_dim = 2 * k_heads * k_dim + v_heads * v_dim
    return conv_dim * kernel + v_heads * k_dim * v_dim


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
    # NOTE: in_proj_qkvz packs q, k, v and the output gate z; in_proj_ba the per-head beta and alpha.
    b.add_linear(f"{p}.in_proj_qkvz", Role.SSM_IN, 2 * key_dim + 2 * value_dim, hidden, i)
    b.add_linear(f"{p}.in_proj_ba", Role.SSM_IN, 2 * v_heads, hidden, i)
    # NOTE: the depthwise conv over q, k, v has no bias; its weight is [conv_dim, 1, kernel].
    b.add(f"{p}.conv1d.weight", Role.SSM_CONV, (conv_dim, 1, kernel), i)
    b.add(f"{p}.dt_bias", Role.SSM_PARAM, (v_heads,), i)
    b.add(f"{p}.A_log", Role.SSM_PARAM, (v_heads,), i)
    # NOTE: the gated RMSNorm's weight spans one value head and is shared by all heads.
    b.add_norm(f"{p}.norm", v_dim, i)
    b.add_linear(f"{p}.out_proj", Role.SSM_OUT, hidden, value_dim, i)


def _add_gated_attention(
    b: SpecBuilder, i: int, p: str, hidden: int, heads: int, kv_heads: int, head_dim: int, bias: bool
) -> None:
    # NOTE: the sigmoid output gate is fused into q_proj, which is twice as wide
    # ([2 * heads * head_dim, hidden], query and gate interleaved per head); there is no separate
    # gate tensor, so the whole matrix stays in ATTN_Q.
    b.add_linear(f"{p}.q_proj", Role.ATTN_Q, 2 * heads * head_dim, hidden, i, bias=bias)
    b.add_linear(f"{p}.k_proj", Role.ATTN_K, kv_heads * head_dim, hidden, i, bias=bias)
    b.add_linear(f"{p}.v_proj", Role.ATTN_V, kv_heads * head_dim, hidden, i, bias=bias)
    b.add_linear(f"{p}.o_proj", Role.ATTN_OUT, hidden, heads * head_dim, i, bias=bias)
    b.add_norm(f"{p}.q_norm", head_dim, i)
    b.add_norm(f"{p}.k_norm", head_dim, i)


def _is_sparse(cfg: ConfigView, i: int, n_experts: int, only_dense: set[int]) -> bool:
    """Routed MoE unless listed in ``mlp_only_layers``, off the ``decoder_sparse_step``, or no experts."""
    step = cfg.int("decoder_sparse_step", 1, maximum=LIMITS["layers"])
    return n_experts > 0 and i not in only_dense and (i + 1) % step == 0


@register("qwen3_next")
def build_qwen3_next(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """Qwen3-Next: DeltaNet / gated attention per layer, each followed by MoE (or a dense MLP)."""
    b = SpecBuilder(cfg, "qwen3_next")
    hidden = cfg.int("hidden_size")
    vocab = cfg.int("vocab_size", maximum=LIMITS["vocab"])
    n = num_layers(cfg)
    heads = cfg.int("num_attention_heads", maximum=LIMITS["heads"])
    kv_heads = cfg.int("num_key_value_heads", 2, maximum=LIMITS["heads"])
    if heads % kv_heads:
        raise InvalidFieldError(
            "num_key_value_heads", f"is {kv_heads}, which does not divide num_attention_heads ({heads})"
        )
    # NOTE: Qwen3NextConfig defaults head_dim to 256, not hidden_size / heads.
    head_dim = cfg.int("head_dim", 256)
    attn_bias = cfg.bool("attention_bias", False)
    tied = cfg.bool("tie_word_embeddings", False)
    kinds = _layer_kinds(cfg, n)
    linear = _deltanet(cfg) if AttentionKind.LINEAR in kinds else None

    n_experts = cfg.int("num_experts", 512, minimum=0, maximum=LIMITS["experts"])
    top_k = 0
    if n_experts:
        top_k = experts_per_token(cfg, n_experts, default=10)
    only_dense = set(cfg.int_list("mlp_only_layers") or [])

    add_embeddings(b, vocab, hidden, tied=tied)
    b.add_norm("model.norm", hidden)
    any_moe = False
    for i in range(n):
        p = "model.layers.*"
        b.add_norm(f"{p}.input_layernorm", hidden, i)
        b.add_norm(f"{p}.post_attention_layernorm", hidden, i)
        sparse = _is_sparse(cfg, i, n_experts, only_dense)
        any_moe = any_moe or sparse
        if kinds[i] is AttentionKind.LINEAR and linear is not None:
            _add_deltanet(b, i, f"{p}.linear_attn", hidden, *linear)
            layer = LayerSpec(
                index=i,
                attention=AttentionKind.LINEAR,
                state_elements=deltanet_state_elements(*linear),
                moe=sparse,
            )
        else:
            _add_gated_attention(b, i, f"{p}.self_attn", hidden, heads, kv_heads, head_dim, attn_bias)
            layer = attention_layer(i, AttentionKind.FULL, None, kv_heads, head_dim, moe=sparse)
        if sparse:
            m = f"{p}.mlp"
            inter = cfg.int("moe_intermediate_size", 512)
            # NOTE: a shared expert of width 0 leaves only its [1, hidden] gate, as in transformers.
            shared = cfg.int("shared_expert_intermediate_size", 512, minimum=0)
            b.add_linear(f"{m}.gate", Role.ROUTER, n_experts, hidden, i)
            add_routed_experts(b, i, f"{m}.experts", hidden, inter, n_experts, top_k)
            b.add_linear(f"{m}.shared_expert.gate_proj", Role.SHARED_EXPERT_GATE, shared, hidden, i)
            b.add_linear(f"{m}.shared_expert.up_proj", Role.SHARED_EXPERT_UP, shared, hidden, i)
            b.add_linear(f"{m}.shared_expert.down_proj", Role.SHARED_EXPERT_DOWN, hidden, shared, i)
            b.add_linear(f"{m}.shared_expert_gate", Role.SHARED_EXPERT_ROUTER, 1, hidden, i)
        else:
            add_gated_mlp(b, i, f"{p}.mlp", hidden, cfg.int("intermediate_size", 5632))
        b.layers.append(layer)

    # NOTE: the published checkpoints also hold a multi-token-prediction head (mtp.*) that
    # transformers does not load; it is not counted (vLLM loads it only for speculative decoding).
    b.note(
        "multi-token-prediction weights (mtp.*) in the checkpoint are not counted: transformers skips them"
    )
    if linear is not None:
        b.note("gated DeltaNet layers keep a fixed recurrent state per sequence instead of a KV cache")
    return b.build(
        name=name,
        hidden_size=hidden,
        vocab_size=vocab,
        n_experts=n_experts if any_moe else 0,
        n_experts_per_token=top_k if any_moe else 0,
        tied_embeddings=tied,
    )
