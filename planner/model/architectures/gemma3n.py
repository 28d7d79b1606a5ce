"""Gemma 3n language models (``gemma3n_text``; the ``gemma3n`` wrapper keeps one in ``text_config``).

Gemma 3's attention and sandwich norms plus the MatFormer/edge machinery:
- ``intermediate_size`` may be a list (one MLP width per layer);
- per-layer input embeddings: a narrow second table for all layers, a model-level projection and norm, and
  a gate, projection and norm in every layer;
- AltUp: ``altup_num_inputs`` parallel streams, with per-layer predict/correct coefficients, a modality
  router and its norm, and ``altup_num_inputs - 1`` model-level projections in and out;
- LAuReL: a low-rank (``laurel_rank``) residual branch with its norm in every layer;
- KV sharing: the last ``num_kv_shared_layers`` layers reuse the cache of the last earlier layer of the same
  type and have no k/v projections.
Sources: transformers ``models/gemma3n/{configuration,modeling}_gemma3n.py`` (``Gemma3nTextConfig``,
``Gemma3nTextConfig.kv_sharing_modes``, ``Gemma3nTextAttention``, ``Gemma3nTextAltUp``,
``Gemma3nTextLaurelBlock``, ``Gemma3nTextDecoderLayer``, ``Gemma3nTextModel``), transformers 5.x.
"""

from __future__ import annotations

from typing import Any

from planner.errors import InvalidFieldError
from planner.model.architectures import register
from planner.model.architectures.common import add_embeddings, add_gated_mlp, layer_kinds, num_layers
from planner.model.architectures.gemma4 import kv_producers
from planner.model.builder import SpecBuilder
from planner.model.config import LIMITS, ConfigView
from planner.model.spec import AttentionKind, LayerSpec, ModelSpec, Role


def _widths(cfg: ConfigView, n: int) -> list[int]:
    """One MLP width per layer: the ``intermediate_size`` list, or one value for all."""
    raw = cfg.raw.get("intermediate_size", 16384)
    if isinstance(raw, list):
        widths = cfg.int_list("intermediate_size") or []
        if len(widths) != n:
            raise InvalidFieldError("intermediate_size", f"has {len(widths)} entries for {n} layers")
        return widths
    return [cfg.int("intermediate_size", 16384)] * n


def build_gemma3n_text(b: SpecBuilder, cfg: ConfigView, prefix: str, head: str) -> tuple[int, int, bool]:
    """The language model under ``prefix``; returns ``(hidden, vocab, tied)``."""
    hidden = cfg.int("hidden_size", 2048)
    vocab = cfg.int("vocab_size", 262400, maximum=LIMITS["vocab"])
    n = num_layers(cfg)
    heads = cfg.int("num_attention_heads", 8, maximum=LIMITS["heads"])
    kv_heads = cfg.int("num_key_value_heads", 2, maximum=LIMITS["heads"])
    if heads % kv_heads:
        raise InvalidFieldError(
            "num_key_value_heads", f"is {kv_heads}, which does not divide num_attention_heads ({heads})"
        )
    head_dim = cfg.int("head_dim", 256)
    bias = cfg.bool("attention_bias", False)
    tied = cfg.bool("tie_word_embeddings", True)
    kinds = layer_kinds(
        cfg, n, ["full_attention" if (i + 1) % 5 == 0 else "sliding_attention" for i in range(n)]
    )
    window = cfg.int("sliding_window", 512)
    shared = kv_producers(kinds, cfg.int("num_kv_shared_layers", 15, minimum=0, maximum=LIMITS["layers"]))
    widths = _widths(cfg, n)
    per_layer = cfg.int("hidden_size_per_layer_input", 256)
    per_vocab = cfg.int("vocab_size_per_layer_input", 262144, maximum=LIMITS["vocab"])
    streams = cfg.int("altup_num_inputs", 4, maximum=LIMITS["heads"])
    rank = cfg.int("laurel_rank", 64)

    add_embeddings(b, vocab, hidden, tied=tied, embed_name=f"{prefix}.embed_tokens.weight", head_name=head)
    b.add_norm(f"{prefix}.norm", hidden)
    b.add(f"{prefix}.embed_tokens_per_layer.weight", Role.EMBEDDING, (per_vocab, n * per_layer))
    b.add_linear(f"{prefix}.per_layer_model_projection", Role.PROJECTOR, n * per_layer, hidden)
    b.add_norm(f"{prefix}.per_layer_projection_norm", per_layer)
    for name in ("altup_projections", "altup_unembed_projections"):
        for j in range(streams - 1):
            b.add(f"{prefix}.{name}.{j}.weight", Role.PROJECTOR, (hidden, hidden))
    for i in range(n):
        p = f"{prefix}.layers.*"
        a = f"{p}.self_attn"
        for norm in (
            "input_layernorm",
            "post_attention_layernorm",
            "pre_feedforward_layernorm",
            "post_feedforward_layernorm",
        ):
            b.add_norm(f"{p}.{norm}", hidden, i)
        b.add_linear(f"{a}.q_proj", Role.ATTN_Q, heads * head_dim, hidden, i, bias=bias)
        b.add_norm(f"{a}.q_norm", head_dim, i)
        b.add_linear(f"{a}.o_proj", Role.ATTN_OUT, hidden, heads * head_dim, i, bias=bias)
        if i in shared:
            layer = LayerSpec(i, AttentionKind.NONE, kv_shared_from=shared[i])
        else:
            b.add_linear(f"{a}.k_proj", Role.ATTN_K, kv_heads * head_dim, hidden, i, bias=bias)
            b.add_linear(f"{a}.v_proj", Role.ATTN_V, kv_heads * head_dim, hidden, i, bias=bias)
            b.add_norm(f"{a}.k_norm", head_dim, i)
            sliding = kinds[i] is AttentionKind.SLIDING
            layer = LayerSpec(
                i,
                kinds[i],
                window=window if sliding else None,
                kv_heads=kv_heads,
                k_head_dim=head_dim,
                v_head_dim=head_dim,
            )
        add_gated_mlp(b, i, f"{p}.mlp", hidden, widths[i])
        u = f"{p}.altup"
        b.add(f"{u}.correct_output_scale", Role.NORM, (hidden,), i)
        b.add(f"{u}.correction_coefs.weight", Role.NORM, (streams, streams), i)
        b.add(f"{u}.prediction_coefs.weight", Role.NORM, (streams * streams, streams), i)
        b.add_linear(f"{u}.modality_router", Role.ROUTER, streams, hidden, i)
        b.add_norm(f"{u}.router_norm", hidden, i)
        b.add_linear(f"{p}.laurel.linear_left", Role.PROJECTOR, rank, hidden, i)
        b.add_linear(f"{p}.laurel.linear_right", Role.PROJECTOR, hidden, rank, i)
        b.add_norm(f"{p}.laurel.post_laurel_norm", hidden, i)
        b.add_linear(f"{p}.per_layer_input_gate", Role.PROJECTOR, per_layer, hidden, i)
        b.add_linear(f"{p}.per_layer_projection", Role.PROJECTOR, hidden, per_layer, i)
        b.add_norm(f"{p}.post_per_layer_input_norm", hidden, i)
        b.layers.append(layer)
    if shared:
        b.note(
            f"the last {len(shared)} layers reuse earlier layers' K and V (KV sharing): they cache nothing and "
            "have no k/v projections"
        )
    b.note(
        "per-layer input embeddings (embed_tokens_per_layer) are counted; runtimes may keep them on the CPU"
    )
    return hidden, vocab, tied


@register("gemma3n_text")
def build_gemma3n(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """A Gemma 3n language model (``Gemma3nForCausalLM``)."""
    b = SpecBuilder(cfg, "gemma3n")
    hidden, vocab, tied = build_gemma3n_text(b, cfg, "model", "lm_head.weight")
    return b.build(name=name, hidden_size=hidden, vocab_size=vocab, tied_embeddings=tied)
