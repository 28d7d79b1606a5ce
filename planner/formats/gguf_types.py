"""ggml storage types: exact block layouts and the bytes of a tensor in each.

Every number comes from ``data/formats/gguf.json`` (``ggml_types``), which cites the
``static_assert(sizeof(block_…) == …)`` line of ggml's ``src/ggml-common.h`` for each
type. A quantized ggml tensor is stored row by row, each row of ``ne[0]`` elements as
``ne[0] / block_size`` blocks of ``type_size`` bytes (ggml ``ggml_row_size``); ggml
refuses rows that are not a whole number of blocks, so there is no rounding up: llama.cpp
picks another type instead (:func:`fallback_type`, ``tensor_type_fallback``).
"""

from __future__ import annotations

import math
from functools import cache, lru_cache

from planner.errors import PlannerError
from planner.formats.registry import format_data
from planner.frozen import record

#: Types that are not block-quantized (``ggml_is_quantized`` is false for them).
PLAIN_TYPES = frozenset({"F32", "F16", "BF16"})


@record
class GgmlType:
    """One ggml storage type: ``type_size`` bytes hold ``block_size`` weights."""

    name: str
    ggml_id: int
    block_size: int
    type_size: int
    source: str

    @property
    def bits_per_weight(self) -> float:
        """Stored bits per weight: ``8 * type_size / block_size``."""
        return 8 * self.type_size / self.block_size

    @property
    def quantized(self) -> bool:
        """True for block-quantized types (everything but F32/F16/BF16)."""
        return self.name not in PLAIN_TYPES


@cache
def ggml_types() -> dict[str, GgmlType]:
    """Every ggml type the planner knows, by upper-case name (``Q4_K``, ``IQ4_XS``...)."""
    data = format_data("gguf")
    out: dict[str, GgmlType] = {}
    for name, row in data["ggml_types"].items():
        out[name] = GgmlType(name, row["ggml_id"], row["block_size"], row["type_size"], row["source"])
    return out


def ggml_type(name: str) -> GgmlType:
    """The ggml type called ``name`` (case-insensitive)."""
    try:
        return ggml_types()[name.upper()]
    except KeyError:
        raise PlannerError(f"unknown ggml type '{name:.20}'") from None


def row_fits(type_name: str, ncols: int) -> bool:
    """True when a row of ``ncols`` elements is a whole number of ``type_name`` blocks."""
    return ncols % ggml_type(type_name).block_size == 0


@lru_cache(maxsize=8192)
def tensor_bytes(type_name: str, ne: tuple[int, ...]) -> int:
    """Exact bytes of a tensor of ggml shape ``ne`` (``ne[0]`` = row length) in ``type_name``.

    ggml ``ggml_nbytes`` for a contiguous tensor: ``ggml_row_size(type, ne[0]) * ne[1] * ne[2]...``,
    with ``ggml_row_size = type_size * ne[0] / block_size``; the row must be whole blocks.
    """
    t = ggml_type(type_name)
    ncols = ne[0] if ne else 1
    if ncols % t.block_size:
        raise PlannerError(f"a row of {ncols} elements is not a whole number of {t.name} blocks")
    rows = math.prod(ne[1:]) if len(ne) > 1 else 1
    return ncols // t.block_size * t.type_size * rows


@cache
def _fallback_map() -> dict[str, str]:
    return dict(format_data("gguf")["fallbacks"]["map"])


@lru_cache(maxsize=4096)
def fallback_type(type_name: str, ncols: int) -> str | None:
    """llama.cpp ``tensor_type_fallback``: the type used when ``ncols`` is not whole blocks.

    Returns ``type_name`` when the row fits; the mapped fallback when it fits; ``F16``
    when neither does; ``None`` when llama.cpp defines no fallback for the type (it then
    refuses to quantize the model: "no tensor type fallback is defined for type ...").
    """
    if row_fits(type_name, ncols):
        return type_name
    fallback = _fallback_map().get(type_name.upper())
    if fallback is None:
        return None
    return fallback if row_fits(fallback, ncols) else "F16"
