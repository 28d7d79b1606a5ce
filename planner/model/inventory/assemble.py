"""A model description from an inventory: tensors from the inventory, layers from the config.

The inventory (headers or the meta device) knows every tensor but not what each layer
caches; the config reader (a hand-written builder, or the generic one) knows the layers.
:func:`spec_with_inventory` keeps the reader's layers and expert counts and replaces its
tensor groups by the inventory's, classified by :func:`planner.model.roles.classify`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from planner.model.inventory.groups import StoredGroup
from planner.model.inventory.packed import LogicalGroup, logical_groups
from planner.model.roles import classify
from planner.model.spec import ROUTED_EXPERT_ROLES, InventorySource, ModelSpec, Role, TensorGroup
from planner.model.templated import cache_caveats

#: Stored tensors that are not model weights: rebuilt at load time, never loaded (old GPT-2 /
#: Llama checkpoints saved them).
_NOT_WEIGHTS = ("rotary_emb.inv_freq", ".masked_bias")
#: Config keys for how many routed experts run per token, when the reader had none.
_TOP_K_KEYS = ("num_experts_per_tok", "num_experts_per_token", "moe_topk", "experts_per_token", "top_k")
_IN_ROLES = frozenset({Role.EXPERT_GATE, Role.EXPERT_UP, Role.EXPERT_GATE_UP})


def _is_weight(g: StoredGroup) -> bool:
    if g.name.endswith(_NOT_WEIGHTS):
        return False
    # NOTE: GPT-2-style checkpoints store the causal mask as ``h.N.attn.bias`` [1, 1, n, n].
    return not (g.name.endswith("attn.bias") and len(g.shape) == 4)


def _split_mtp(g: LogicalGroup, n_layers: int | None) -> list[LogicalGroup]:
    """Split a group whose layers run past the decoder (next-n layers stored as layers N, N+1...)."""
    if (
        n_layers is None
        or not g.layers
        or g.layers[-1] < n_layers
        or g.layers[0] >= n_layers
        or g.count % len(g.layers)
    ):
        return [g]
    per = g.count // len(g.layers)
    low = tuple(x for x in g.layers if x < n_layers)
    high = tuple(x for x in g.layers if x >= n_layers)
    nbytes = g.stored_bytes
    low_bytes = None if nbytes is None else nbytes * len(low) // len(g.layers)
    high_bytes = None if nbytes is None else nbytes - (low_bytes or 0)
    return [
        replace(g, count=per * len(low), layers=low, stored_bytes=low_bytes),
        replace(g, count=per * len(high), layers=high, stored_bytes=high_bytes),
    ]


def _role(g: LogicalGroup, n_layers: int | None) -> Role:
    name = g.name if not g.layers else g.name.replace("*", str(g.layers[0]), 1)
    return classify(name, len(g.shape), n_layers=n_layers)


def _per_expert(g: LogicalGroup, role: Role, hidden: int) -> tuple[tuple[int, ...], int]:
    """A fused 3-D experts tensor [E, a, b] as E matrices [out, in] (one per expert)."""
    if len(g.shape) < 2 or (len(g.shape) == 2 and role is not Role.BIAS):
        return g.shape, g.count
    experts, shape = g.shape[0], g.shape[1:]
    if len(shape) == 2:
        a, b = shape
        # NOTE: transformers holds some fused experts as [E, in, out] (gpt-oss, Llama 4):
        # gate/up read the hidden state (in = hidden), down writes it (out = hidden).
        if (role in _IN_ROLES and a == hidden != b) or (role is Role.EXPERT_DOWN and b == hidden != a):
            shape = (b, a)
    return shape, g.count * experts


def _top_k(base: ModelSpec, config: Mapping[str, Any]) -> int:
    if base.n_experts_per_token:
        return base.n_experts_per_token
    for raw in (config, config.get("text_config")):
        if isinstance(raw, Mapping):
            for key in _TOP_K_KEYS:
                value = raw.get(key)
                if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                    return value
    return 0


def spec_with_inventory(
    base: ModelSpec,
    groups: tuple[StoredGroup, ...],
    source: InventorySource,
    detail: str,
    config: Mapping[str, Any],
    *,
    bits: int | None = None,
) -> ModelSpec:
    """``base`` (the config reader's description) with the inventory's tensors in place of its own."""
    # NOTE: a checkpoint may store next-n (MTP) layers past the decoder, which transformers drops on
    # load; whatever transformers builds on the meta device it also loads, so nothing is split off
    # there (a reader whose layer count is off, as a template's can be, then drops no real layer).
    n_layers = base.num_layers if source is not InventorySource.META else None
    hints = {t.name: t.shape for t in base.tensors}
    logical = logical_groups((g for g in groups if _is_weight(g)), bits=bits, shape_hint=hints.get)
    rows: list[tuple[LogicalGroup, Role]] = []
    mtp_params = 0
    for lg in logical:
        for part in _split_mtp(lg, n_layers):
            role = _role(part, n_layers)
            if role is Role.MTP:
                n = 1
                for d in part.shape:
                    n *= d
                mtp_params += n * part.count
            else:
                rows.append((part, role))

    tensors: list[TensorGroup] = []
    expert_counts: set[int] = set()
    for lg, role in rows:
        routed = role in ROUTED_EXPERT_ROLES or (role is Role.BIAS and ".experts." in f".{lg.name}")
        shape, count = _per_expert(lg, role, base.hidden_size) if routed else (lg.shape, lg.count)
        if routed and lg.layers:
            expert_counts.add(count // len(lg.layers))
        tensors.append(
            TensorGroup(lg.name, role, tuple(shape), count, lg.layers, (1, 1), lg.stored_bytes, lg.stored_as)
        )
    n_experts = base.n_experts or (max(expert_counts) if expert_counts else 0)
    top_k = _top_k(base, config) if n_experts else 0
    notes = [f"tensors from {source.value}: {detail}"] if detail else [f"tensors from {source.value}"]
    if n_experts and top_k:
        active = (min(top_k, n_experts), n_experts)
        tensors = [
            replace(t, active_fraction=active)
            if t.role in ROUTED_EXPERT_ROLES or (t.role is Role.BIAS and ".experts." in f".{t.name}")
            else t
            for t in tensors
        ]
    elif n_experts:
        notes.append("the config does not say how many experts run per token: active parameters count all")
    if mtp_params:
        notes.append(
            f"the checkpoint also holds {mtp_params:,} multi-token-prediction (MTP/next-n) parameters, "
            "which transformers does not load; they are not counted"
        )
    approximate = base.inventory_source is InventorySource.GENERIC
    if base.approximate and base.family == "inventory":
        kept = list(base.notes)  # layers read from the inventory itself: its own caveat (minimal.py)
    elif base.approximate:
        kept = [n for n in base.notes if "auto_map" in n]
        if base.inventory_source is InventorySource.TEMPLATE:
            # a template's layers the planner cannot model: the cache stays approximate
            kept += cache_caveats(base)
            approximate = bool(cache_caveats(base))
        if approximate:
            kept.append(
                f"'{base.architecture}' has no hand-written reader: its tensors are exact, but the per-layer "
                "attention (what the KV cache holds) is read as a Llama-style decoder's and is approximate"
            )
    else:
        kept = list(base.notes)
    has_head = any(t.role is Role.LM_HEAD for t in tensors)
    return replace(
        base,
        tensors=tuple(tensors),
        n_experts=n_experts,
        n_experts_per_token=top_k,
        tied_embeddings=base.tied_embeddings and not has_head,
        approximate=approximate,
        notes=(*notes, *kept),
        inventory_source=source,
        inventory_detail=detail,
    )
