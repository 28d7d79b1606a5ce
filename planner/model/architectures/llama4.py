"""Llama 4 (``llama4_text``, and the ``llama4`` image-text wrapper): Scout and Maverick.

A Llama decoder with three twists: MoE layers interleaved with dense ones (``moe_layers``, by default
every ``interleave_moe_layer_step``-th layer), each MoE layer a routed expert bank (top-1 by default)
plus an always-on shared expert; dense layers use the wider ``intermediate_size_mlp``; and iRoPE: layers
that keep RoPE attend within chunks of ``attention_chunk_size`` tokens, every fourth layer (``no_rope_layers``
0) attends globally without RoPE.
Sources: transformers ``models/llama4/{configuration,modeling}_llama4.py`` (``Llama4TextConfig.__post_init__``,
``Llama4TextMoe``, ``Llama4TextExperts``, ``Llama4TextDecoderLayer``) and ``cache_utils.py``
(``chunked_attention`` layers cache like sliding-window layers of ``attention_chunk_size``), transformers 5.x.
The image-text wrapper takes its tensors (vision tower, projector) from the ``llama4`` template and its
per-layer cache (chunked and global layers) from this builder.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from planner.errors import InvalidFieldError
from planner.model import templates
from planner.model.architectures import register
from planner.model.architectures.common import (
    add_attention,
    add_embeddings,
    add_gated_mlp,
    attention_heads,
    attention_layer,
    experts_per_token,
    num_layers,
)
from planner.model.architectures.wrapped import with_template_towers
from planner.model.builder import SpecBuilder
from planner.model.config import LIMITS, ConfigView
from planner.model.spec import AttentionKind, ModelSpec, Role
from planner.model.templated import build_from_template


def _layer_kinds(cfg: ConfigView, n: int) -> list[AttentionKind]:
    """Chunked (sliding) or full per layer: ``layer_types``, else from ``no_rope_layers``.

    # NOTE: ``no_rope_layers[i]`` is 1 where layer i *uses* RoPE (and attends in chunks), 0 for the
    # global NoPE layers; by default every ``no_rope_layer_interval``-th layer is NoPE.
    """
    names = cfg.str_list("layer_types", n)
    if names is None:
        flags = cfg.int_list("no_rope_layers")
        if flags is not None and len(flags) != n:
            raise InvalidFieldError("no_rope_layers", f"has {len(flags)} entries for {n} layers")
        if not flags:
            interval = cfg.int("no_rope_layer_interval", 4, maximum=LIMITS["layers"])
            flags = [int((i + 1) % interval != 0) for i in range(n)]
        names = ["chunked_attention" if flag else "full_attention" for flag in flags]
    kinds = []
    for i, name in enumerate(names):
        if name not in ("chunked_attention", "full_attention"):
            raise InvalidFieldError(f"layer_types[{i}]", "must be 'chunked_attention' or 'full_attention'")
        kinds.append(AttentionKind.SLIDING if name == "chunked_attention" else AttentionKind.FULL)
    return kinds


def _moe_layers(cfg: ConfigView, n: int) -> set[int]:
    """``moe_layers``, else every ``interleave_moe_layer_step``-th layer (step 1: all, 2: odd layers)."""
    explicit = cfg.int_list("moe_layers")
    if explicit is not None:
        return set(explicit)
    step = cfg.int("interleave_moe_layer_step", 1, maximum=LIMITS["layers"])
    return set(range(step - 1, n, step))


def build_llama4_text(
    b: SpecBuilder, cfg: ConfigView, prefix: str, head: str
) -> tuple[int, int, int, int, bool]:
    """The language model under ``prefix`` (``model`` or ``model.language_model``), head at ``head``."""
    hidden = cfg.int("hidden_size", 5120)
    vocab = cfg.int("vocab_size", 202048, maximum=LIMITS["vocab"])
    n = num_layers(cfg)
    heads, kv_heads, head_dim = attention_heads(cfg)
    bias = cfg.bool("attention_bias", False)
    tied = cfg.bool("tie_word_embeddings", False)
    kinds = _layer_kinds(cfg, n)
    chunk = cfg.opt_int("attention_chunk_size")
    moe_layers = _moe_layers(cfg, n)
    n_experts = top_k = 0
    if moe_layers & set(range(n)):
        n_experts = cfg.int("num_local_experts", 16, maximum=LIMITS["experts"])
        top_k = experts_per_token(cfg, n_experts, default=1)

    add_embeddings(b, vocab, hidden, tied=tied, embed_name=f"{prefix}.embed_tokens.weight", head_name=head)
    b.add_norm(f"{prefix}.norm", hidden)
    for i in range(n):
        p = f"{prefix}.layers.*"
        b.add_norm(f"{p}.input_layernorm", hidden, i)
        b.add_norm(f"{p}.post_attention_layernorm", hidden, i)
        # NOTE: use_qk_norm is a weightless L2 norm (Llama4TextL2Norm): no tensors.
        add_attention(b, i, f"{p}.self_attn", hidden, heads, kv_heads, head_dim, qkv_bias=bias, o_bias=bias)
        moe = i in moe_layers
        f = f"{p}.feed_forward"
        if moe:
            inter = cfg.int("intermediate_size", 8192)
            # NOTE: the checkpoint stores each layer's experts fused: gate_up_proj [E, hidden, 2 * inter]
            # and down_proj [E, inter, hidden]; counted here per expert.
            kw = {"copies": n_experts, "active": (top_k, n_experts)}
            b.add(f"{f}.experts.gate_up_proj", Role.EXPERT_GATE_UP, (2 * inter, hidden), i, **kw)
            b.add(f"{f}.experts.down_proj", Role.EXPERT_DOWN, (hidden, inter), i, **kw)
            b.add_linear(f"{f}.router", Role.ROUTER, n_experts, hidden, i)
            b.add_linear(f"{f}.shared_expert.gate_proj", Role.SHARED_EXPERT_GATE, inter, hidden, i)
            b.add_linear(f"{f}.shared_expert.up_proj", Role.SHARED_EXPERT_UP, inter, hidden, i)
            b.add_linear(f"{f}.shared_expert.down_proj", Role.SHARED_EXPERT_DOWN, hidden, inter, i)
        else:
            add_gated_mlp(b, i, f, hidden, cfg.int("intermediate_size_mlp", 16384))
        layer = attention_layer(i, kinds[i], chunk, kv_heads, head_dim, moe=moe)
        b.layers.append(replace(layer, chunked=layer.attention is AttentionKind.SLIDING))
    if any(layer.window for layer in b.layers):
        b.note(
            f"RoPE layers attend within chunks of {chunk} tokens (iRoPE): their cache is bounded like a "
            "sliding window of that size; every NoPE layer keeps the whole context"
        )
    return hidden, vocab, n_experts, top_k, tied


@register("llama4_text")
def build_llama4(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """A text-only Llama 4 (``Llama4ForCausalLM``)."""
    b = SpecBuilder(cfg, "llama4")
    hidden, vocab, n_experts, top_k, tied = build_llama4_text(b, cfg, "model", "lm_head.weight")
    return b.build(
        name=name,
        hidden_size=hidden,
        vocab_size=vocab,
        n_experts=n_experts,
        n_experts_per_token=top_k,
        tied_embeddings=tied,
    )


@register("llama4")
def build_llama4_wrapper(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """Llama 4 Scout/Maverick as released (``Llama4ForConditionalGeneration``): vision tower included."""
    text_view = cfg if cfg.architecture == "llama4_text" else ConfigView(cfg.raw, "llama4_text", cfg.prefix)
    raw = dict(root, model_type="llama4")
    text_raw = raw.get("text_config")
    if not isinstance(text_raw, dict):
        # NOTE: without a text_config transformers builds its default language model, as the template does.
        tpl = templates.find("llama4", raw)
        return build_from_template(tpl, raw, name) if tpl else build_llama4(text_view, name, root)
    if text_raw.get("moe_layers") is None:
        # NOTE: transformers derives moe_layers from interleave_moe_layer_step when the file leaves it out
        # (Llama4TextConfig.__post_init__); the template's fields need it spelled out.
        layers = sorted(_moe_layers(text_view, num_layers(text_view)))
        raw["text_config"] = dict(text_raw, moe_layers=layers)
    text = build_llama4(text_view, name, root)
    spec = with_template_towers("llama4", raw, name, text, "model.language_model")
    return spec if spec is not None else text
