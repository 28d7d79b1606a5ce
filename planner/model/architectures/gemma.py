"""Gemma, Gemma 2 and Gemma 3 (text-only and the multimodal wrapper with SigLIP).

Sources: transformers ``models/gemma{,2,3}/{configuration,modeling}_gemma*.py``.
What sets them apart from Llama: an explicit ``head_dim`` (256 on most sizes, not
hidden/heads), embeddings tied to the head by default, four norms per layer from
Gemma 2 on, q/k norms in Gemma 3, and sliding-window layers in a fixed pattern.
"""

from __future__ import annotations

from typing import Any

from planner.errors import InvalidFieldError
from planner.model.architectures import register
from planner.model.architectures.common import (
    add_attention,
    add_embeddings,
    add_gated_mlp,
    attention_heads,
    attention_layer,
    layer_kinds,
    num_layers,
)
from planner.model.architectures.vision import add_siglip_tower
from planner.model.builder import SpecBuilder
from planner.model.config import LIMITS, ConfigView
from planner.model.spec import ModelSpec, Role


def _default_pattern(cfg: ConfigView, n: int) -> list[str]:
    """Layer types when the config has no ``layer_types`` list.

    # NOTE: Gemma 2 alternates sliding/full starting with sliding (layer 0 slides);
    # Gemma 3 makes every ``sliding_window_pattern``-th layer full (default 6: five local, one global).
    """
    if cfg.architecture == "gemma":
        return ["full_attention"] * n
    period = (
        2 if cfg.architecture == "gemma2" else cfg.int("sliding_window_pattern", 6, maximum=LIMITS["layers"])
    )
    return ["sliding_attention" if (i + 1) % period else "full_attention" for i in range(n)]


def _build_text(b: SpecBuilder, cfg: ConfigView, prefix: str, head_prefix: str) -> tuple[int, int, bool]:
    hidden = cfg.int("hidden_size")
    vocab = cfg.int("vocab_size", maximum=LIMITS["vocab"])
    inter = cfg.int("intermediate_size")
    n = num_layers(cfg)
    heads, kv_heads, head_dim = attention_heads(cfg)
    tied = cfg.bool("tie_word_embeddings", True)
    attn_bias = cfg.bool("attention_bias", False)
    later = cfg.architecture != "gemma"
    kinds = layer_kinds(cfg, n, _default_pattern(cfg, n))
    window = cfg.opt_int("sliding_window")

    add_embeddings(
        b,
        vocab,
        hidden,
        tied=tied,
        embed_name=f"{prefix}.embed_tokens.weight",
        head_name=f"{head_prefix}.weight",
    )
    b.add_norm(f"{prefix}.norm", hidden)
    for i in range(n):
        p = f"{prefix}.layers.*"
        norms = ["input_layernorm", "post_attention_layernorm"]
        if later:
            norms += ["pre_feedforward_layernorm", "post_feedforward_layernorm"]
        for norm in norms:
            b.add_norm(f"{p}.{norm}", hidden, i)
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
            qk_norm=cfg.architecture.startswith("gemma3"),
        )
        add_gated_mlp(b, i, f"{p}.mlp", hidden, inter)
        b.layers.append(attention_layer(i, kinds[i], window, kv_heads, head_dim))
    return hidden, vocab, tied


@register("gemma", "gemma2", "gemma3_text")
def build_gemma(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """A text-only Gemma (``Gemma*ForCausalLM``)."""
    b = SpecBuilder(cfg, "gemma")
    hidden, vocab, tied = _build_text(b, cfg, "model", "lm_head")
    return b.build(name=name, hidden_size=hidden, vocab_size=vocab, tied_embeddings=tied)


@register("gemma3")
def build_gemma3(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """Gemma 3 with its SigLIP tower and projector (``Gemma3ForConditionalGeneration``).

    # NOTE: the 4B/12B/27B checkpoints are multimodal; the 1B is text-only (gemma3_text).
    # A gemma3 config without text_config is read as text-only.
    """
    if not isinstance(root.get("text_config"), dict):
        text = ConfigView(root, "gemma3_text")
        return build_gemma(text, name, root)
    text = cfg if cfg.architecture == "gemma3_text" else ConfigView(cfg.raw, "gemma3_text", cfg.prefix)
    b = SpecBuilder(text, "gemma")
    hidden, vocab, tied = _build_text(b, text, "model.language_model", "lm_head")
    vision_raw = root.get("vision_config")
    if vision_raw is None:
        vision_raw = {}
    if not isinstance(vision_raw, dict):
        raise InvalidFieldError("vision_config", "must be an object")
    vision = ConfigView(vision_raw, "siglip_vision_model", prefix="vision_config.")
    v_hidden = add_siglip_tower(b, vision, "model.vision_tower.vision_model")
    proj = "model.multi_modal_projector"
    b.add(f"{proj}.mm_input_projection_weight", Role.PROJECTOR, (v_hidden, hidden))
    # NOTE: the projector's own norm goes with it (llama.cpp V_MM_SOFT_EMB_NORM, in the mmproj file).
    b.add(f"{proj}.mm_soft_emb_norm.weight", Role.PROJECTOR, (v_hidden,))
    b.note("includes the SigLIP vision tower and projector (multimodal checkpoint)")
    return b.build(name=name, hidden_size=hidden, vocab_size=vocab, tied_embeddings=tied)
