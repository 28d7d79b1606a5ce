"""A model description for an inventory whose config the pure core cannot read.

The config reader refuses layouts it was not taught (``layer_types`` it does not know, fields
named otherwise: BLT, XLNet, MPT, DeepSeek-V4...). When an inventory is at hand anyway (the
checkpoint's headers, or transformers' meta-device build), its tensors are exact; only what
each layer caches is unknown. :func:`minimal_spec` reads that much, robustly, from the
inventory itself: the decoder layers are the layer indices of the language model's tensors,
a layer's per-token KV width is its key and value projections' output width, an MLA layer's
latent is its joint KV down-projection. Sliding windows, recurrent state and KV sharing are
not read, so the spec is marked approximate with a note saying so (the CLI and the app show it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from planner.model.config import LIMITS
from planner.model.inventory.groups import StoredGroup
from planner.model.roles import classify
from planner.model.spec import MULTIMODAL_ROLES, AttentionKind, InventorySource, LayerSpec, ModelSpec, Role
from planner.model.templated import CACHE_CAVEAT

#: The family recorded on such a spec (no builder, no template read it).
FAMILY = "inventory"
_HIDDEN = ("hidden_size", "n_embd", "d_model", "dim", "embed_dim", "hidden_dim")
_LAYERS = ("num_hidden_layers", "n_layer", "num_layers", "n_layers", "decoder_layers")
_KV_HEADS = ("num_key_value_heads", "num_kv_heads", "n_head_kv", "multi_query_group_num")
_HEADS = ("num_attention_heads", "n_head", "num_heads", "n_heads", "decoder_attention_heads")
_VOCAB = ("vocab_size", "n_vocab", "padded_vocab_size")
_MAX_POS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length")
#: ``layer_types`` entries of a window sliding token by token (not chunked attention).
_SLIDING_NAMES = frozenset({"sliding_attention", "sliding_window", "local"})
#: Largest value taken from a config field here (anything larger is ignored as nonsense).
_SANE = 1 << 24


#: Upper bounds of config fields by what their name says (the pure core's own limits): a config past
#: them is not built on the meta device (a million layers would take minutes and gigabytes there too).
_BOUNDS = (
    ("layer", LIMITS["layers"]),
    ("vocab", LIMITS["vocab"]),
    ("expert", LIMITS["experts"]),
    ("head", LIMITS["heads"]),
    ("size", LIMITS["width"]),
    ("dim", LIMITS["width"]),
    ("d_model", LIMITS["width"]),
    ("n_embd", LIMITS["width"]),
)


def too_large(config: Mapping[str, Any], depth: int = 2) -> str | None:
    """The first field (top level and nested configs) past the pure core's limits, or None."""
    for key, value in config.items():
        if isinstance(value, Mapping) and depth > 0:
            found = too_large(value, depth - 1)
            if found:
                return f"{key}.{found}"
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and isinstance(key, str):
            low = key.lower()
            if "position" in low or "window" in low or "max_" in low:
                continue
            if any(word in low and value > bound for word, bound in _BOUNDS):
                return key
    return None


def _int(sections: tuple[Mapping[str, Any], ...], keys: tuple[str, ...]) -> int | None:
    for section in sections:
        for key in keys:
            value = section.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= _SANE:
                return value
    return None


def _sections(config: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
    text = config.get("text_config")
    return (text, config) if isinstance(text, Mapping) else (config,)


def minimal_spec(
    config: Mapping[str, Any], name: str, groups: tuple[StoredGroup, ...], reason: str
) -> ModelSpec:
    """A spec with the inventory's layers, for :func:`~planner.model.inventory.assemble.spec_with_inventory`.

    ``reason`` is why the config reader refused the config; it goes into the approximate note.
    """
    sections = _sections(config)
    model_type = config.get("model_type")
    arch = model_type if isinstance(model_type, str) else "unknown"
    declared = _int(sections, _LAYERS)
    # every layer index of the language model's tensors, and what each layer's tensors are
    roles: dict[int, list[tuple[Role, tuple[int, ...]]]] = {}
    embedding: tuple[int, ...] | None = None
    for g in groups:
        role = classify(g.name if not g.layers else g.name.replace("*", str(g.layers[0]), 1), len(g.shape))
        if role in MULTIMODAL_ROLES:
            continue
        if role is Role.EMBEDDING and embedding is None and len(g.shape) == 2:
            embedding = g.shape
        if "*" in g.name:
            for layer in g.layers:
                roles.setdefault(layer, []).append((role, g.shape))
    seen = max(roles, default=-1) + 1
    n_layers = declared if declared and declared <= seen else seen
    hidden = _int(sections, _HIDDEN) or (embedding[1] if embedding else 0)
    vocab = _int(sections, _VOCAB) or (embedding[0] if embedding else 0)
    heads = _int(sections, _HEADS)
    kv_heads = _int(sections, _KV_HEADS) or heads
    layers = tuple(_layer(i, roles.get(i, []), kv_heads) for i in range(n_layers))
    if layers and all(layer.attention is AttentionKind.NONE for layer in layers) and hidden and heads:
        # NOTE: no projection named as a key or value anywhere (CTRL's Wk/Wv, XLNet's 3-D q/k/v):
        # every layer caches kv_heads x head_dim keys and values, head_dim = hidden_size / heads.
        dim = _int(sections, ("head_dim", "d_head")) or max(hidden // heads, 1)
        kv = kv_heads or heads
        layers = tuple(
            LayerSpec(i, AttentionKind.FULL, kv_heads=kv, k_head_dim=dim, v_head_dim=dim)
            for i in range(n_layers)
        )
    layers = _windows(layers, sections)
    note = (
        f"{CACHE_CAVEAT}the planner cannot read this config itself ({reason[:200]}), so each layer's KV "
        "cache is read from its key/value projections' widths, as full attention unless layer_types names "
        "a sliding window (recurrent state, chunked attention and shared KV are not read)"
    )
    return ModelSpec(
        name=name,
        architecture=arch,
        family=FAMILY,
        hidden_size=hidden,
        vocab_size=vocab,
        max_position_embeddings=_int(sections, _MAX_POS),
        layers=layers,
        tensors=(),
        approximate=True,
        notes=(note,),
        inventory_source=InventorySource.GENERIC,
    )


def _layer(index: int, tensors: list[tuple[Role, tuple[int, ...]]], kv_heads: int | None) -> LayerSpec:
    """One layer's cache geometry from its tensors' shapes (``[out, in]`` matrices)."""
    width = {role: shape[0] for role, shape in tensors if len(shape) == 2}
    if Role.ATTN_KV_A in width:
        return LayerSpec(index, AttentionKind.MLA, latent_dim=width[Role.ATTN_KV_A])
    k, v = width.get(Role.ATTN_K, 0), width.get(Role.ATTN_V, 0)
    if not (k and v) and Role.ATTN_QKV in width:
        # a fused q/k/v projection: q, k and v as wide as one another (multi-head attention)
        k = v = width[Role.ATTN_QKV] // 3
    if not (k and v):
        return LayerSpec(index, AttentionKind.NONE)
    heads = kv_heads if kv_heads and k % kv_heads == 0 and v % kv_heads == 0 else 1
    return LayerSpec(index, AttentionKind.FULL, kv_heads=heads, k_head_dim=k // heads, v_head_dim=v // heads)


def _windows(layers: tuple[LayerSpec, ...], sections: tuple[Mapping[str, Any], ...]) -> tuple[LayerSpec, ...]:
    """Layers that ``layer_types`` names ``sliding_attention`` keep only ``sliding_window`` tokens."""
    for section in sections:
        kinds, window = section.get("layer_types"), section.get("sliding_window")
        if not isinstance(kinds, list) or len(kinds) != len(layers):
            continue
        if not isinstance(window, int) or isinstance(window, bool) or window < 1:
            return layers
        return tuple(
            replace(layer, attention=AttentionKind.SLIDING, window=window)
            if layer.attention is AttentionKind.FULL and kind in _SLIDING_NAMES
            else layer
            for layer, kind in zip(layers, kinds, strict=True)
        )
    return layers
