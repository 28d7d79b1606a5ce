"""Exact bytes held by a model's weights and by its KV cache, read from the tensors themselves.

Bytes are counted per storage (``untyped_storage().nbytes()``), each storage once, so
tied weights, views and bitsandbytes' ``CB`` (the int8 data itself) are not counted
twice, and a cache view that pins a larger prefill is counted at its real size.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class CacheBytes:
    """A cache's bytes: ``logical`` (sum of the tensors' own sizes) and ``storage`` (what is allocated)."""

    logical: int
    storage: int
    layers: int


def _quant_state_tensors(state: Any) -> Iterator[Any]:
    """bitsandbytes ``QuantState``: absmax and code table, and the nested ones with double quant."""
    for attr in ("absmax", "code", "offset"):
        t = getattr(state, attr, None)
        if t is not None:
            yield t
    nested = getattr(state, "state2", None)
    if nested is not None:
        yield from _quant_state_tensors(nested)


def _tensors_in(value: Any, depth: int = 0) -> Iterator[Any]:
    """Tensors inside a dict/list attribute (HQQ keeps scale and zero in ``module.meta``)."""
    import torch

    if isinstance(value, torch.Tensor):
        yield value
    elif depth < 3 and isinstance(value, dict):
        for v in value.values():
            yield from _tensors_in(v, depth + 1)
    elif depth < 3 and isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors_in(v, depth + 1)


def weight_tensors(model: Any) -> list[Any]:
    """Parameters, persistent buffers and the quantization state they carry.

    Non-persistent buffers (rotary frequencies, embedding scales) are rebuilt at load
    time and are not weights: see :func:`buffer_tensors`.
    """
    out = []
    for module in model.modules():
        for p in module._parameters.values():
            if p is None:
                continue
            out.append(p)
            state = getattr(p, "quant_state", None)  # bitsandbytes Params4bit
            if state is not None:
                out.extend(_quant_state_tensors(state))
            scb = getattr(p, "SCB", None)  # bitsandbytes Int8Params: the row scales
            if scb is not None:
                out.append(scb)
        out += [
            b
            for n, b in module._buffers.items()
            if b is not None and n not in module._non_persistent_buffers_set
        ]
        meta = getattr(module, "meta", None)  # HQQLinear
        if isinstance(meta, dict):
            out.extend(_tensors_in(meta))
    return out


def buffer_tensors(model: Any) -> list[Any]:
    """Non-persistent buffers: on the device, but not part of a checkpoint."""
    out = []
    for module in model.modules():
        out += [
            b for n, b in module._buffers.items() if b is not None and n in module._non_persistent_buffers_set
        ]
    return out


def storage_bytes(tensors: Iterable[Any]) -> int:
    """Bytes of the distinct storages behind ``tensors`` (each storage once)."""
    seen, total = set(), 0
    for t in tensors:
        if t.device.type == "meta":
            continue
        storage = t.untyped_storage()
        key = (storage.data_ptr(), str(t.device))
        if key in seen or storage.nbytes() == 0:
            continue
        seen.add(key)
        total += storage.nbytes()
    return total


def logical_bytes(tensors: Iterable[Any]) -> int:
    """Sum of the tensors' own sizes (``nbytes``), each tensor once."""
    seen, total = set(), 0
    for t in tensors:
        if id(t) not in seen:
            seen.add(id(t))
            total += t.nbytes
    return total


def cache_tensors(cache: Any) -> list[Any]:
    """The tensors a transformers cache holds: keys/values per layer, or conv/SSM states."""
    import torch

    layers = getattr(cache, "layers", None)
    if layers is None:  # a legacy tuple of (key, value) per layer
        return [t for pair in cache or () for t in pair if isinstance(t, torch.Tensor)]
    out = []
    for layer in layers:
        out += [getattr(layer, "keys", None), getattr(layer, "values", None)]
        out.append(getattr(layer, "indexer_keys", None))  # DSA: DynamicIndexedLayer
        out += list(getattr(layer, "conv_states", {}).values())
        out += list(getattr(layer, "recurrent_states", {}).values())
    # NOTE: MiniMaxCache keeps each lightning layer's state in its own list, beside the layers.
    out += list(getattr(cache, "linear_cache", None) or ())
    return [t for t in out if isinstance(t, torch.Tensor) and t.numel() > 0]


def cache_bytes(cache: Any) -> CacheBytes:
    """Logical and allocated bytes of a cache after a forward pass."""
    tensors = cache_tensors(cache)
    layers = len(getattr(cache, "layers", None) or ())
    return CacheBytes(logical_bytes(tensors), storage_bytes(tensors), layers)


__all__ = [
    "CacheBytes",
    "buffer_tensors",
    "cache_bytes",
    "cache_tensors",
    "logical_bytes",
    "storage_bytes",
    "weight_tensors",
]
