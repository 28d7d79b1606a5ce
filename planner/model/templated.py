"""A :class:`ModelSpec` from a tensor template (``planner/model/templates.py``).

Used for every model type without a hand-written builder: the tensor inventory is exact
(the template reproduces transformers' parameters); the per-layer cache geometry is read
from the standard config fields (``layer_types``, ``num_key_value_heads``, ``head_dim``,
``sliding_window``) or, for a multimodal model, from its language model's own builder.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from planner.errors import ConfigError, InvalidFieldError
from planner.model.architectures.common import LAYER_TYPE_KINDS, attention_layer
from planner.model.expr import evaluate
from planner.model.spec import (
    ROUTED_EXPERT_ROLES,
    AttentionKind,
    InventorySource,
    LayerSpec,
    ModelSpec,
    Role,
    TensorGroup,
)
from planner.model.templates import Fields, _count, _Scope, dims, uses_index

#: Roles of the multimodal side (towers and connectors): llama.cpp's mmproj file.
MULTIMODAL_PARTS = frozenset({"vision", "audio", "projector"})
#: How notes on a per-layer cache the template path cannot model begin (they make the spec approximate).
CACHE_CAVEAT = "KV cache approximate: "
#: How notes on a part counted as the template's default type begin (they make the spec approximate).
PART_CAVEAT = "tensors approximate: "


def cache_caveats(spec: ModelSpec) -> list[str]:
    """The notes saying which part of a templated spec's per-layer cache is approximate."""
    return [n for n in spec.notes if n.startswith(CACHE_CAVEAT)]


def _role(entry: Mapping[str, Any]) -> Role:
    try:
        return Role(entry["role"])
    except ValueError:
        return Role.VISION if entry.get("part") in MULTIMODAL_PARTS else Role.MLP_UP


def tensor_groups(
    tpl: Mapping[str, Any], fields: Fields, *, skip_text: bool = False, skip_prefixes: tuple[str, ...] = ()
) -> tuple[list[TensorGroup], int, int]:
    """Every tensor group the template gives for these fields; also ``(n_experts, top_k)``."""
    groups: list[TensorGroup] = []
    text_layers = tpl.get("text_layers")
    n_text = _count("num_hidden_layers", evaluate(text_layers, fields)) if text_layers else None
    n_experts = top_k = 0
    levels: dict[tuple[str, str | None], tuple[int, list[int]]] = {}  # the same repeat rule, once
    for entry in tpl["tensors"]:
        if skip_text and entry.get("part") == "text":
            continue
        if skip_prefixes and entry["name"].startswith(skip_prefixes):
            continue
        when = entry.get("when")
        if when is not None and not evaluate(when, fields):
            continue
        role = _role(entry)
        repeat = entry.get("repeat", ())
        outer: list[int] = [0]
        n_outer = None
        if repeat:
            key = (repeat[0]["count"], repeat[0].get("where"))
            if key not in levels:
                n = _count(f"{entry['name']} (repeat)", evaluate(key[0], fields))
                rule = key[1]
                levels[key] = (
                    n,
                    [i for i in range(n) if rule is None or evaluate(rule, _Scope(fields, i=i, n=n))],
                )
            n_outer, outer = levels[key]
            if not outer:
                continue
        copies = 1
        for axis in repeat[1:]:
            copies *= _count(f"{entry['name']} (repeat)", evaluate(axis["count"], _Scope(fields, i=outer[0])))
        active = (1, 1)
        experts = entry.get("experts")
        if experts is not None and role in ROUTED_EXPERT_ROLES:
            if "count" in experts:
                e = _count(f"{entry['name']} (experts)", evaluate(experts["count"], fields))
                copies *= e
            else:
                axis = repeat[experts["axis"]]
                e = _count(f"{entry['name']} (experts)", evaluate(axis["count"], _Scope(fields, i=outer[0])))
            k = e
            if experts.get("top_k"):
                k = fields(experts["top_k"])
                if isinstance(k, bool) or not isinstance(k, int) or k < 1:
                    raise InvalidFieldError(experts["top_k"], f"must be a positive integer, not {k!r:.40}")
                if k > e:
                    raise InvalidFieldError(experts["top_k"], f"is {k}, more than the {e} experts")
            if e:
                active = (k, e)
                n_experts, top_k = max(n_experts, e), top_k or k
        layered = bool(repeat) and entry.get("part") == "text" and n_text is not None and n_outer == n_text
        if repeat and uses_index(entry):
            n = len(outer)
            by_shape: dict[tuple[int, ...], list[int]] = defaultdict(list)
            for i in outer:
                by_shape[dims(entry, _Scope(fields, i=i, n=n))].append(i)
            for shape, idx in by_shape.items():
                if all(d > 0 for d in shape):
                    layers = tuple(idx) if layered else ()
                    groups.append(TensorGroup(entry["name"], role, shape, len(idx) * copies, layers, active))
            continue
        shape = dims(entry, fields)
        if not all(d > 0 for d in shape):
            continue  # transformers allocates an empty tensor: nothing to store
        layers = tuple(outer) if layered else ()
        groups.append(TensorGroup(entry["name"], role, shape, len(outer) * copies, layers, active))
    return groups, n_experts, top_k


def _field(fields: Fields, path: str) -> Any:
    try:
        return fields(path)
    except ConfigError:
        return None


def generic_layers(
    tpl: Mapping[str, Any], fields: Fields, moe_layers: set[int], notes: list[str]
) -> list[LayerSpec]:
    """Per-layer cache geometry from the standard fields of the (text) config."""
    if not tpl.get("text_layers"):
        return []
    n = _count("num_hidden_layers", evaluate(tpl["text_layers"], fields))
    section = tpl.get("text_config") or (
        "text_config" if isinstance(fields.raw.get("text_config"), Mapping) else ""
    )
    pre = f"{section}." if section else ""
    rules = fields.rules

    def get(name: str) -> Any:
        if pre + name in rules:
            return _field(fields, pre + name)
        # a field no tensor shape reads (heads, window): the config's own value, older spellings included
        present, value = fields.given(pre + name)
        return value if present else None

    heads = get("num_attention_heads")
    hidden = get("hidden_size")
    kv = get("num_key_value_heads") or heads
    head_dim = get("head_dim")
    if not isinstance(head_dim, int) or isinstance(head_dim, bool) or head_dim < 1:
        head_dim = hidden // heads if isinstance(hidden, int) and isinstance(heads, int) and heads > 0 else 0
    window = get("sliding_window")
    window = window if isinstance(window, int) and not isinstance(window, bool) and window > 0 else None
    types = get("layer_types")
    unknown: set[str] = set()
    out = []
    for i in range(n):
        name = types[i] if isinstance(types, list) and i < len(types) and isinstance(types[i], str) else None
        kind = LAYER_TYPE_KINDS.get(name, AttentionKind.FULL) if name else AttentionKind.FULL
        if name and name not in LAYER_TYPE_KINDS:
            unknown.add(name)
        if kind is AttentionKind.LINEAR:
            out.append(LayerSpec(index=i, attention=kind, moe=i in moe_layers))
            continue
        kv_heads = kv if isinstance(kv, int) and not isinstance(kv, bool) and kv > 0 else 0
        out.append(
            attention_layer(i, kind, window, kv_heads, head_dim if kv_heads else 0, moe=i in moe_layers)
        )
    if unknown:
        notes.append(
            f"{CACHE_CAVEAT}layer kinds {sorted(unknown)} are not modelled yet: their cache is counted as "
            "full attention"
        )
    if any(layer.attention is AttentionKind.LINEAR for layer in out):
        notes.append(
            f"{CACHE_CAVEAT}the recurrent state of linear/state-space layers is not modelled for this type "
            "(counted as 0)"
        )
    if not kv:
        notes.append(
            f"{CACHE_CAVEAT}the config names no attention heads: the cache is not modelled (counted as 0)"
        )
    return out


def build_from_template(
    tpl: Mapping[str, Any],
    raw: Mapping[str, Any],
    name: str,
    *,
    text_spec: ModelSpec | None = None,
    text_replaced: bool = False,
) -> ModelSpec:
    """The spec of ``raw`` from ``tpl``.

    ``text_spec`` (the language model read by its own builder) gives the per-layer cache
    geometry; with ``text_replaced`` its tensors also replace the template's language model
    (a multimodal config whose ``text_config`` is of another type than the template's default).
    """
    fields = Fields(tpl, raw)
    notes: list[str] = [
        f"tensors from the '{tpl['model_type']}' template ({tpl['source'].split(':')[0]}; derived from "
        "transformers' modeling code, exact for the parameters it allocates)"
    ]
    swapped, extra = _swapped_towers(tpl, raw, notes)
    groups, n_experts, top_k = tensor_groups(tpl, fields, skip_text=text_replaced, skip_prefixes=swapped)
    groups += extra
    if text_replaced and text_spec is not None:
        prefix = tpl.get("text_prefix") or ""
        groups = [_prefixed(t, prefix) for t in text_spec.tensors] + groups
        n_experts, top_k = text_spec.n_experts, text_spec.n_experts_per_token
        notes.append(
            f"language model counted by the '{text_spec.family}' builder for '{text_spec.architecture}'"
        )
        notes.extend(text_spec.notes)
    text = [t for t in groups if t.role not in (Role.VISION, Role.PROJECTOR)]
    moe_layers = {i for t in text if t.role in ROUTED_EXPERT_ROLES for i in t.layers}
    caveats: list[str] = []
    if text_spec is not None:
        layers = list(text_spec.layers)
        approximate = text_spec.approximate
    else:
        layers = generic_layers(tpl, fields, moe_layers, caveats)
        approximate = bool(caveats)
    others = _unswapped_parts(tpl, raw, swapped, text_replaced)
    if others:
        notes[:0] = others  # first: the approximate warning shows the notes
        approximate = True
    embed = next((t for t in text if t.role is Role.EMBEDDING and len(t.shape) == 2), None)
    head = next((t for t in text if t.role is Role.LM_HEAD), None)
    vocab, hidden = (0, 0)
    for t in (embed, head):
        if t is not None and len(t.shape) == 2:
            vocab, hidden = t.shape
            break
    mm = sum(t.parameters for t in groups if t.role in (Role.VISION, Role.PROJECTOR))
    if mm:
        notes.append(
            f"includes the multimodal towers and projector ({mm:,} parameters; llama.cpp keeps them in a "
            "separate mmproj file)"
        )
    max_pos = _field(
        fields,
        f"{tpl['text_config']}.max_position_embeddings"
        if tpl.get("text_config")
        else "max_position_embeddings",
    )
    return ModelSpec(
        name=name,
        architecture=tpl["model_type"],
        family="template",
        hidden_size=hidden,
        vocab_size=vocab,
        max_position_embeddings=max_pos
        if isinstance(max_pos, int) and not isinstance(max_pos, bool)
        else None,
        layers=tuple(layers),
        tensors=tuple(groups),
        n_experts=n_experts,
        n_experts_per_token=top_k,
        tied_embeddings=embed is not None and head is None,
        approximate=approximate,
        notes=tuple(dict.fromkeys([*caveats, *notes])),
        inventory_source=InventorySource.TEMPLATE,
        inventory_detail=f"data/templates/{tpl['kind']}/{tpl['model_type']}.json ({tpl['source'].split(':')[0]})",
    )


#: Sub-configs whose model may be of another type than the template's default (a tower swapped).
SWAPPABLE = ("vision_config", "audio_config")


def _swapped_towers(
    tpl: Mapping[str, Any], raw: Mapping[str, Any], notes: list[str]
) -> tuple[tuple[str, ...], list[TensorGroup]]:
    """Towers whose config names another type than the template's (LLaVA with SigLIP instead of CLIP).

    The template's own tower is left out and the other type's tower template (``data/templates/base``,
    derived from ``AutoModel``) counted in its place, under the same module prefix.
    """
    from planner.model import templates

    skipped: list[str] = []
    extra: list[TensorGroup] = []
    for key in SWAPPABLE:
        sub = raw.get(key)
        default = (tpl.get("sub_configs") or {}).get(key)
        prefixes = (tpl.get("sub_prefixes") or {}).get(key) or []
        if not isinstance(sub, Mapping) or not default or not prefixes:
            continue
        wanted = sub.get("model_type", default)
        if wanted == default:
            continue
        if not isinstance(wanted, str):
            raise InvalidFieldError(f"{key}.model_type", "must be a string")
        base = templates.load("base", wanted)
        if base is None:
            raise ConfigError(
                f"{key}.model_type is '{wanted:.40}': the planner has no tower template for it "
                f"(the '{tpl['model_type']}' template expects '{default}')"
            )
        tower, _, _ = tensor_groups(base, Fields(base, sub))
        for prefix in prefixes:
            skipped.append(prefix + ".")
            for t in tower:
                role = Role.VISION if t.role is not Role.PROJECTOR else t.role
                extra.append(TensorGroup(f"{prefix}.{t.name}", role, t.shape, t.count, (), t.active_fraction))
        notes.append(f"{key}: the '{wanted}' tower replaces the template's default '{default}'")
    return tuple(skipped), extra


def _unswapped_parts(
    tpl: Mapping[str, Any], raw: Mapping[str, Any], swapped: tuple[str, ...], text_replaced: bool
) -> list[str]:
    """Notes for sub-configs of another type than the template's that nothing counted as that type.

    # NOTE: a template knows where a sub-model's tensors live only when its derivation recorded the
    # module prefix (``sub_prefixes``); without it the template's default part is counted instead,
    # which is close (the same wrapper) but not exact: the figure is then marked approximate.
    """
    out = []
    prefixes = tpl.get("sub_prefixes") or {}
    for key, default in (tpl.get("sub_configs") or {}).items():
        sub = raw.get(key)
        wanted = sub.get("model_type") if isinstance(sub, Mapping) else None
        if not isinstance(wanted, str) or wanted == default:
            continue
        if key == tpl.get("text_config") and text_replaced:
            continue
        if any(p + "." in swapped for p in prefixes.get(key) or []):
            continue
        out.append(
            f"{PART_CAVEAT}{key}.model_type is '{wanted:.40}', but the '{tpl['model_type']}' template knows only its "
            f"default '{default}' there: that part was counted as a '{default}' of the same sizes"
        )
    return out


def _prefixed(t: TensorGroup, prefix: str) -> TensorGroup:
    """A causal-LM tensor name moved under a multimodal wrapper's language-model prefix."""
    from dataclasses import replace

    if not prefix or t.role is Role.LM_HEAD:
        return t
    name = t.name
    if name.startswith("model."):
        name = name[len("model.") :]
    return replace(t, name=f"{prefix}.{name}")
