"""OpenAI gpt-oss (``gpt_oss``): gpt-oss-20b and gpt-oss-120b.

GQA attention with biases and a learned per-head sink logit, alternating sliding-window
(128) and full layers, and an MoE MLP in every layer: a router with bias and experts whose
fused gate/up and down projections carry biases.
Sources: transformers ``models/gpt_oss/{configuration,modeling}_gpt_oss.py`` (transformers 5.x)
and ``integrations/mxfp4.py`` (checkpoint layout of the MXFP4 experts).
"""

from __future__ import annotations

from typing import Any

from planner.errors import InvalidFieldError
from planner.model.architectures import register
from planner.model.architectures.common import (
    add_attention,
    add_embeddings,
    attention_layer,
    experts_per_token,
    layer_kinds,
    num_layers,
)
from planner.model.builder import SpecBuilder
from planner.model.config import LIMITS, ConfigView
from planner.model.spec import ModelSpec, Role

#: transformers' ``GptOssConfig`` defaults for the fields the published configs always set.
_HEAD_DIM = 64
_KV_HEADS = 8
_SLIDING_WINDOW = 128


@register("gpt_oss")
def build_gpt_oss(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """Read a gpt-oss config."""
    b = SpecBuilder(cfg, "gpt_oss")
    hidden = cfg.int("hidden_size")
    vocab = cfg.int("vocab_size", maximum=LIMITS["vocab"])
    n = num_layers(cfg)
    heads = cfg.int("num_attention_heads", maximum=LIMITS["heads"])
    kv_heads = cfg.int("num_key_value_heads", _KV_HEADS, maximum=LIMITS["heads"])
    if heads % kv_heads:
        raise InvalidFieldError(
            "num_key_value_heads", f"is {kv_heads}, which does not divide num_attention_heads ({heads})"
        )
    # NOTE: head_dim is independent of hidden/heads (64 with hidden 2880 and 64 heads);
    # transformers defaults it to 64, not hidden // heads.
    head_dim = cfg.int("head_dim", _HEAD_DIM)
    inter = cfg.int("intermediate_size")
    # NOTE: ``num_experts`` is transformers' alias (attribute_map) for num_local_experts.
    experts_key = (
        "num_experts" if cfg.has("num_experts") and not cfg.has("num_local_experts") else "num_local_experts"
    )
    n_experts = cfg.int(experts_key, maximum=LIMITS["experts"])
    top_k = _top_k(cfg, n_experts)
    bias = cfg.bool("attention_bias", True)
    tied = cfg.bool("tie_word_embeddings", False)
    # NOTE: transformers defaults layer_types to sliding on even layers, full on odd ones;
    # a null sliding_window turns the sliding layers into full ones.
    default = ["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(n)]
    kinds = layer_kinds(cfg, n, default)
    window = cfg.opt_int("sliding_window") if "sliding_window" in cfg.raw else _SLIDING_WINDOW

    add_embeddings(b, vocab, hidden, tied=tied)
    b.add_norm("model.norm", hidden)
    experts = {"copies": n_experts, "active": (top_k, n_experts)}
    for i in range(n):
        p = "model.layers.*"
        b.add_norm(f"{p}.input_layernorm", hidden, i)
        b.add_norm(f"{p}.post_attention_layernorm", hidden, i)
        add_attention(b, i, f"{p}.self_attn", hidden, heads, kv_heads, head_dim, qkv_bias=bias, o_bias=bias)
        b.add(f"{p}.self_attn.sinks", Role.ATTN_SINKS, (heads,), i)
        b.add_linear(f"{p}.mlp.router", Role.ROUTER, n_experts, hidden, i, bias=True)
        # NOTE: the checkpoint stores each layer's experts as one 3-D tensor per projection
        # (MXFP4 ``*_blocks``/``*_scales`` [n_experts, out, in/32, 16] in the published repos,
        # plain ``gate_up_proj`` in BF16 conversions, which transformers holds as [E, in, out]).
        # They are recorded here per expert, [out, in], so formats can quantize them by role;
        # gate_up interleaves the gate and up rows.
        e = f"{p}.mlp.experts"
        b.add(f"{e}.gate_up_proj", Role.EXPERT_GATE_UP, (2 * inter, hidden), i, **experts)
        b.add(f"{e}.gate_up_proj_bias", Role.BIAS, (2 * inter,), i, **experts)
        b.add(f"{e}.down_proj", Role.EXPERT_DOWN, (hidden, inter), i, **experts)
        b.add(f"{e}.down_proj_bias", Role.BIAS, (hidden,), i, **experts)
        b.layers.append(attention_layer(i, kinds[i], window, kv_heads, head_dim, moe=True))
    quant = cfg.sub("quantization_config")
    if quant is not None and quant.str("quant_method") == "mxfp4":
        b.note(
            "the published checkpoint stores the routed-expert weights in MXFP4 (4-bit values, one 8-bit scale "
            "per 32: 4.25 bits per parameter); everything else, expert biases included, is BF16"
        )
    return b.build(
        name=name,
        hidden_size=hidden,
        vocab_size=vocab,
        n_experts=n_experts,
        n_experts_per_token=top_k,
        tied_embeddings=tied,
    )


def _top_k(cfg: ConfigView, n_experts: int) -> int:
    """Experts per token: ``num_experts_per_tok`` (transformers), else ``experts_per_token`` (OpenAI)."""
    key = "num_experts_per_tok" if cfg.has("num_experts_per_tok") else "experts_per_token"
    return experts_per_token(cfg, n_experts, key, default=4)
