"""Gemma 4 language models (``gemma4_text``; the ``gemma4`` image-text wrapper keeps one in ``text_config``).

Gemma 3's sandwich norms and q/k norms, plus:
- global (full-attention) layers with their own geometry: ``global_head_dim`` and, with
  ``attention_k_eq_v``, ``num_global_key_value_heads`` heads whose keys double as values (no ``v_proj``);
- optional per-layer input embeddings (``hidden_size_per_layer_input`` > 0, the E2B/E4B models): a second,
  narrow embedding table for all layers, a model-level projection, and a gate/projection/norm per layer;
- optional MoE next to the dense MLP (``enable_moe_block``: a scaled router, fused experts, three norms);
- KV sharing: the last ``num_kv_shared_layers`` layers reuse the cache of the last earlier layer of their
  type and have no k/v projections (and a double-width MLP with ``use_double_wide_mlp``);
- a ``layer_scalar`` buffer in every layer.
The ``gemma4`` wrapper adds the vision tower (``Gemma4VisionModel``: a linear patch projection, a 2-D position
table, pre/post-norm layers with q/k norms and a gated MLP, standardization buffers) and its embedder into the
language model's width; the audio tower of the E2B/E4B checkpoints is not modelled (the figure is then marked
approximate).
Sources: transformers ``models/gemma4/{configuration,modeling}_gemma4.py`` (``Gemma4TextConfig.__post_init__``,
``Gemma4TextConfig.kv_sharing_modes``, ``Gemma4TextAttention``, ``Gemma4TextMLP``, ``Gemma4TextRouter``,
``Gemma4TextDecoderLayer``, ``Gemma4TextModel``, ``Gemma4VisionModel``, ``Gemma4ClippableLinear``,
``Gemma4MultimodalEmbedder``, ``Gemma4Model``), transformers 5.x.
"""

from __future__ import annotations

from typing import Any

from planner.errors import InvalidFieldError
from planner.model.architectures import register
from planner.model.architectures.common import add_embeddings, add_gated_mlp, layer_kinds, num_layers
from planner.model.architectures.moe_blocks import add_fused_experts
from planner.model.builder import SpecBuilder
from planner.model.config import LIMITS, ConfigView
from planner.model.spec import AttentionKind, LayerSpec, ModelSpec, Role


def kv_producers(kinds: list[AttentionKind], shared: int) -> dict[int, int]:
    """Consumer layer -> the layer whose cache it reuses: the last unshared layer of the same kind.

    # NOTE: Gemma4TextConfig.kv_sharing_modes: the last ``num_kv_shared_layers`` layers "reuse"; each
    # kind's last non-consumer layer "stores" its K and V for them.
    """
    n = len(kinds)
    first = n - shared
    if shared <= 0:
        return {}
    if not first > 0:
        raise InvalidFieldError(
            "num_kv_shared_layers", f"is {shared}; at least one layer must keep its own cache"
        )
    out = {}
    for i in range(first, n):
        producer = next((j for j in range(first - 1, -1, -1) if kinds[j] is kinds[i]), None)
        if producer is None:
            raise InvalidFieldError(
                "num_kv_shared_layers", f"leaves no earlier layer of layer {i}'s kind to share a cache with"
            )
        out[i] = producer
    return out


def per_layer_overrides(cfg: ConfigView, n: int) -> dict[int, dict[str, int]] | None:
    """``per_layer_config`` (transformers 5.x's spelling of per-layer geometry): layer -> head_dim / kv heads.

    ``None`` when the config has none (then ``global_head_dim`` / ``num_global_key_value_heads`` apply).
    """
    raw = cfg.raw.get("per_layer_config")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidFieldError("per_layer_config", "must be an object of layer index -> overrides")
    out: dict[int, dict[str, int]] = {}
    for key, value in raw.items():
        try:
            i = int(key)
        except (TypeError, ValueError):
            raise InvalidFieldError(
                "per_layer_config", f"has the key '{key!s:.20}', not a layer index"
            ) from None
        if not 0 <= i < n or not isinstance(value, dict):
            raise InvalidFieldError(f"per_layer_config.{key}", f"must be the overrides of a layer 0..{n - 1}")
        view = ConfigView(value, cfg.architecture, prefix=f"{cfg.prefix}per_layer_config.{key}.")
        out[i] = {
            k: view.int(k, maximum=LIMITS["width"] if k == "head_dim" else LIMITS["heads"])
            for k in ("head_dim", "num_key_value_heads")
            if view.has(k)
        }
    return out


def build_gemma4_text(b: SpecBuilder, cfg: ConfigView, prefix: str, head: str) -> tuple[int, int, bool]:
    """The language model under ``prefix``; returns ``(hidden, vocab, tied)``."""
    hidden = cfg.int("hidden_size", 2304)
    vocab = cfg.int("vocab_size", 262144, maximum=LIMITS["vocab"])
    n = num_layers(cfg)
    heads = cfg.int("num_attention_heads", 8, maximum=LIMITS["heads"])
    kv_heads = cfg.int("num_key_value_heads", 4, maximum=LIMITS["heads"])
    head_dim = cfg.int("head_dim", 256)
    global_dim = cfg.int("global_head_dim", 512)
    k_eq_v = cfg.bool("attention_k_eq_v", False)
    global_kv = kv_heads
    if k_eq_v and cfg.has("num_global_key_value_heads"):
        global_kv = cfg.int("num_global_key_value_heads", maximum=LIMITS["heads"])
    overrides = per_layer_overrides(cfg, num_layers(cfg))
    bias = cfg.bool("attention_bias", False)
    tied = cfg.bool("tie_word_embeddings", True)
    kinds = layer_kinds(cfg, n, ["sliding_attention" if (i + 1) % 6 else "full_attention" for i in range(n)])
    kinds[-1] = AttentionKind.FULL  # NOTE: Gemma4TextConfig forces the last layer to full attention.
    window = cfg.int("sliding_window", 512)
    if cfg.raw.get("use_bidirectional_attention") == "all":
        window = window // 2 + 1  # NOTE: as Gemma4TextConfig.__post_init__ does for bidirectional models
    shared = kv_producers(kinds, cfg.int("num_kv_shared_layers", 0, minimum=0, maximum=LIMITS["layers"]))
    per_layer = cfg.int("hidden_size_per_layer_input", 256, minimum=0)
    moe = cfg.bool("enable_moe_block", False)
    n_experts = top_k = 0
    if moe:
        n_experts = cfg.int("num_experts", maximum=LIMITS["experts"])
        top_k = cfg.int("top_k_experts", maximum=LIMITS["experts"])
        if top_k > n_experts:
            raise InvalidFieldError("top_k_experts", f"is {top_k}, more than the {n_experts} experts")
    inter = cfg.int("intermediate_size", 9216)

    add_embeddings(b, vocab, hidden, tied=tied, embed_name=f"{prefix}.embed_tokens.weight", head_name=head)
    b.add_norm(f"{prefix}.norm", hidden)
    if per_layer:
        per_vocab = cfg.int("vocab_size_per_layer_input", 262144, maximum=LIMITS["vocab"])
        b.add(f"{prefix}.embed_tokens_per_layer.weight", Role.EMBEDDING, (per_vocab, n * per_layer))
        b.add_linear(f"{prefix}.per_layer_model_projection", Role.PROJECTOR, n * per_layer, hidden)
        b.add_norm(f"{prefix}.per_layer_projection_norm", per_layer)
    for i in range(n):
        p = f"{prefix}.layers.*"
        a = f"{p}.self_attn"
        full = kinds[i] is AttentionKind.FULL
        if overrides is not None:
            # NOTE: transformers 5.x saves the global layers' geometry as per_layer_config overrides.
            dim = overrides.get(i, {}).get("head_dim", head_dim)
            kvh = overrides.get(i, {}).get("num_key_value_heads", kv_heads)
        else:
            dim, kvh = (global_dim, global_kv) if full else (head_dim, kv_heads)
        if heads % kvh:
            field = "num_global_key_value_heads" if full else "num_key_value_heads"
            raise InvalidFieldError(field, f"is {kvh}, which does not divide num_attention_heads ({heads})")
        for norm in (
            "input_layernorm",
            "post_attention_layernorm",
            "pre_feedforward_layernorm",
            "post_feedforward_layernorm",
        ):
            b.add_norm(f"{p}.{norm}", hidden, i)
        b.add(f"{p}.layer_scalar", Role.NORM, (1,), i)
        b.add_linear(f"{a}.q_proj", Role.ATTN_Q, heads * dim, hidden, i, bias=bias)
        b.add_norm(f"{a}.q_norm", dim, i)
        b.add_linear(f"{a}.o_proj", Role.ATTN_OUT, hidden, heads * dim, i, bias=bias)
        if i in shared:
            layer = LayerSpec(i, AttentionKind.NONE, kv_shared_from=shared[i])
        else:
            b.add_norm(f"{a}.k_norm", dim, i)
            b.add_linear(f"{a}.k_proj", Role.ATTN_K, kvh * dim, hidden, i, bias=bias)
            k_only = k_eq_v and full
            if not k_only:
                b.add_linear(f"{a}.v_proj", Role.ATTN_V, kvh * dim, hidden, i, bias=bias)
            # NOTE: with attention_k_eq_v a global layer's values are its keys, yet the cache keeps both.
            layer = LayerSpec(
                i,
                kinds[i],
                window=None if full else window,
                kv_heads=kvh,
                k_head_dim=dim,
                v_head_dim=dim,
                moe=moe,
            )
        wide = cfg.bool("use_double_wide_mlp", False) and i in shared
        add_gated_mlp(b, i, f"{p}.mlp", hidden, inter * (2 if wide else 1))
        if per_layer:
            b.add_linear(f"{p}.per_layer_input_gate", Role.PROJECTOR, per_layer, hidden, i)
            b.add_linear(f"{p}.per_layer_projection", Role.PROJECTOR, hidden, per_layer, i)
            b.add_norm(f"{p}.post_per_layer_input_norm", hidden, i)
        if moe:
            b.add(f"{p}.router.scale", Role.NORM, (hidden,), i)
            b.add(f"{p}.router.per_expert_scale", Role.NORM, (n_experts,), i)
            b.add_linear(f"{p}.router.proj", Role.ROUTER, n_experts, hidden, i)
            add_fused_experts(
                b, i, f"{p}.experts", hidden, cfg.int("moe_intermediate_size"), n_experts, top_k
            )
            for norm in (
                "post_feedforward_layernorm_1",
                "post_feedforward_layernorm_2",
                "pre_feedforward_layernorm_2",
            ):
                b.add_norm(f"{p}.{norm}", hidden, i)
        b.layers.append(layer)
    if shared:
        b.note(
            f"the last {len(shared)} layers reuse earlier layers' K and V (KV sharing): they cache nothing and "
            "have no k/v projections"
        )
    if per_layer:
        b.note(
            "per-layer input embeddings (embed_tokens_per_layer) are counted; runtimes may keep them on the CPU"
        )
    return hidden, vocab, tied


@register("gemma4_text")
def build_gemma4(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """A Gemma 4 language model (``Gemma4ForCausalLM``)."""
    b = SpecBuilder(cfg, "gemma4")
    hidden, vocab, tied = build_gemma4_text(b, cfg, "model", "lm_head.weight")
    experts = cfg.int("num_experts", 0, minimum=0) if cfg.bool("enable_moe_block", False) else 0
    top_k = cfg.int("top_k_experts", 0, minimum=0) if experts else 0
    return b.build(
        name=name,
        hidden_size=hidden,
        vocab_size=vocab,
        n_experts=experts,
        n_experts_per_token=top_k,
        tied_embeddings=tied,
    )


def add_gemma4_vision(b: SpecBuilder, v: ConfigView, prefix: str) -> int:
    """The Gemma 4 vision tower under ``prefix``; returns its width. Defaults are ``Gemma4VisionConfig``'s."""
    hidden = v.int("hidden_size", 768)
    inter = v.int("intermediate_size", 3072)
    n = v.int("num_hidden_layers", 16, maximum=LIMITS["layers"])
    heads = v.int("num_attention_heads", 12, maximum=LIMITS["heads"])
    kv_heads = v.int("num_key_value_heads", 12, maximum=LIMITS["heads"])
    head_dim = v.int("head_dim", 64)
    patch = v.int("patch_size", 16, maximum=1 << 12)
    positions = v.int("position_embedding_size", 10 * 1024, maximum=1 << 24)
    clipped = v.bool("use_clipped_linears", False)

    def linear(name: str, out_features: int, in_features: int, i: int) -> None:
        b.add(f"{name}.linear.weight", Role.VISION, (out_features, in_features), i)
        if clipped:
            # NOTE: Gemma4ClippableLinear keeps four scalar clamp bounds as persistent buffers.
            for bound in ("input_min", "input_max", "output_min", "output_max"):
                b.add(f"{name}.{bound}", Role.VISION, (), i)

    b.add(f"{prefix}.patch_embedder.input_proj.weight", Role.VISION, (hidden, 3 * patch * patch))
    b.add(f"{prefix}.patch_embedder.position_embedding_table", Role.VISION, (2, positions, hidden))
    layer = f"{prefix}.encoder.layers.*"
    for i in range(n):
        attn = f"{layer}.self_attn"
        linear(f"{attn}.q_proj", heads * head_dim, hidden, i)
        linear(f"{attn}.k_proj", kv_heads * head_dim, hidden, i)
        linear(f"{attn}.v_proj", kv_heads * head_dim, hidden, i)
        linear(f"{attn}.o_proj", hidden, heads * head_dim, i)
        b.add(f"{attn}.q_norm.weight", Role.VISION, (head_dim,), i)
        b.add(f"{attn}.k_norm.weight", Role.VISION, (head_dim,), i)
        for proj, out_features, in_features in (("gate_proj", inter, hidden), ("up_proj", inter, hidden),
                                                ("down_proj", hidden, inter)):  # fmt: skip
            linear(f"{layer}.mlp.{proj}", out_features, in_features, i)
        for norm in ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                     "post_feedforward_layernorm"):  # fmt: skip
            b.add(f"{layer}.{norm}.weight", Role.VISION, (hidden,), i)
    if v.bool("standardize", False):
        b.add(f"{prefix}.std_bias", Role.VISION, (hidden,))
        b.add(f"{prefix}.std_scale", Role.VISION, (hidden,))
    return hidden


@register("gemma4")
def build_gemma4_wrapper(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """A Gemma 4 image-text model (``Gemma4ForConditionalGeneration``): language model, vision tower, embedder."""
    text = cfg if cfg.architecture == "gemma4_text" else ConfigView(cfg.raw, "gemma4_text", cfg.prefix)
    if not isinstance(root.get("text_config"), dict):
        # NOTE: a flat config is read as the language model alone.
        return build_gemma4(ConfigView(root, "gemma4_text"), name, root)
    b = SpecBuilder(text, "gemma4")
    hidden, vocab, tied = build_gemma4_text(b, text, "model.language_model", "lm_head.weight")
    vision_raw = root.get("vision_config")
    if vision_raw is not None:
        if not isinstance(vision_raw, dict):
            raise InvalidFieldError("vision_config", "must be an object")
        vision = ConfigView(vision_raw, "gemma4_vision", prefix="vision_config.")
        v_hidden = add_gemma4_vision(b, vision, "model.vision_tower")
        # NOTE: Gemma4MultimodalEmbedder: a scale-free RMSNorm, then a projection into the text width.
        b.add("model.embed_vision.embedding_projection.weight", Role.PROJECTOR, (hidden, v_hidden))
        b.note("includes the vision tower and its embedder (multimodal checkpoint)")
    audio = root.get("audio_config")
    experts = text.int("num_experts", 0, minimum=0) if text.bool("enable_moe_block", False) else 0
    top_k = text.int("top_k_experts", 0, minimum=0) if experts else 0
    spec = b.build(
        name=name,
        hidden_size=hidden,
        vocab_size=vocab,
        n_experts=experts,
        n_experts_per_token=top_k,
        tied_embeddings=tied,
    )
    if audio is not None:
        from dataclasses import replace

        note = "the audio tower (audio_config) is not modelled: it is not counted"
        spec = replace(spec, notes=(note, *spec.notes), approximate=True)
    return spec
