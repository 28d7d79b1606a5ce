"""Where a model's tensors come from, most authoritative first.

1. The checkpoint's own safetensors headers (a local folder, or a Hub repo through
   ``huggingface_hub``): exact for any architecture, pre-quantized checkpoints included
   (their stored bytes are the weights' bytes).
2. transformers' modeling code on the meta device, where torch and transformers are
   installed: exact for every type transformers knows; cached on disk by config hash.
3. The planner's hand-written builders (:mod:`planner.model.architectures`), pure Python.
4. A tensor template derived from transformers' modeling code (``data/templates/``,
   :mod:`planner.model.templated`), pure Python; source ``template``.
5. A generic Llama-style estimate, marked approximate.

Whatever the source, the per-layer attention geometry (what the KV cache holds) comes from
the config through the builder, the template or the generic reader; :func:`describe` puts the two
together and records the source on the spec (``inventory_source``, ``inventory_detail``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from planner.errors import ConfigError, MissingFieldError, UnknownLayerTypeError
from planner.model import model_from_config
from planner.model.inventory.assemble import spec_with_inventory
from planner.model.inventory.groups import StoredGroup, StoredTensor, group_tensors
from planner.model.spec import InventorySource, ModelSpec

__all__ = [
    "InventorySource",
    "StoredGroup",
    "StoredTensor",
    "describe",
    "group_tensors",
    "quantized_bits",
]


def quantized_bits(config: Mapping[str, Any]) -> int | None:
    """The packed width of a GPTQ/AWQ/compressed-tensors checkpoint, from ``quantization_config``."""
    qc = config.get("quantization_config") or config.get("compression_config")
    text = config.get("text_config")
    if not isinstance(qc, Mapping) and isinstance(text, Mapping):
        qc = text.get("quantization_config")
    if not isinstance(qc, Mapping):
        return None
    candidates = [qc.get("bits"), qc.get("w_bit")]
    groups = qc.get("config_groups")
    if isinstance(groups, Mapping):
        for group in groups.values():
            weights = group.get("weights") if isinstance(group, Mapping) else None
            if isinstance(weights, Mapping):
                candidates.append(weights.get("num_bits"))
    for bits in candidates:
        if isinstance(bits, int) and not isinstance(bits, bool) and bits in (1, 2, 3, 4, 8):
            return bits
    return None


def describe(
    config: Mapping[str, Any],
    name: str,
    *,
    headers: tuple[tuple[StoredGroup, ...], str] | None = None,
    meta: bool | None = None,
) -> ModelSpec:
    """The model ``config`` defines, with tensors from the best source at hand.

    ``headers`` are the checkpoint's stored groups and a description of where they were
    read (a folder, a Hub commit); ``meta`` allows (True), forbids (False) or leaves to the
    environment (None: when torch and transformers are installed) the meta-device build.
    Raises the config reader's :class:`~planner.errors.ConfigError` for a config it cannot read.
    """
    try:
        base = model_from_config(config, name)
    except ConfigError as exc:
        # NOTE: the pure core refuses layouts it was not taught; an inventory (headers, or the meta
        # device) still counts every tensor exactly, and the layers are read from it.
        return _unread(config, name, exc, headers=headers, meta=meta)
    if headers is not None and headers[0]:
        groups, detail = headers
        return spec_with_inventory(
            base, groups, InventorySource.HEADERS, detail, config, bits=quantized_bits(config)
        )
    if meta is not False:
        from planner.model.inventory.meta import MetaUnavailable, meta_groups

        try:
            groups, detail = meta_groups(config, build=meta)
        except MetaUnavailable as exc:
            if base.inventory_source is InventorySource.GENERIC:
                return replace(base, notes=(*base.notes, f"no exact count: {exc}"))
            return base
        return spec_with_inventory(base, groups, InventorySource.META, detail, config)
    return base


def _unread(
    config: Mapping[str, Any],
    name: str,
    error: ConfigError,
    *,
    headers: tuple[tuple[StoredGroup, ...], str] | None,
    meta: bool | None,
) -> ModelSpec:
    """The spec of a config the pure core refused, from an inventory; else the reader's own error."""
    from planner.model.inventory.minimal import too_large

    # NOTE: only what the reader was not taught (a field spelled otherwise, a newer layer kind) is
    # worth an inventory; a malformed or absurd value stays the reader's error, and nothing is built.
    if not isinstance(error, (MissingFieldError, UnknownLayerTypeError)) or not isinstance(config, Mapping):
        raise error
    if too_large(config):
        raise error
    from planner.model.inventory.minimal import minimal_spec

    if headers is not None and headers[0]:
        groups, detail = headers
        base = minimal_spec(config, name, groups, str(error))
        return spec_with_inventory(
            base, groups, InventorySource.HEADERS, detail, config, bits=quantized_bits(config)
        )
    if meta is False:
        raise error
    from planner.model.inventory.meta import MetaUnavailable, meta_groups

    try:
        groups, detail = meta_groups(config, build=meta)
    except MetaUnavailable:
        raise error from None
    return spec_with_inventory(
        minimal_spec(config, name, groups, str(error)), groups, InventorySource.META, detail, config
    )


def folder_headers(folder: Path) -> tuple[tuple[StoredGroup, ...], str] | None:
    """The safetensors headers of a local checkpoint folder, or None when it has none."""
    from planner.model.inventory.headers import folder_groups

    return folder_groups(folder)
