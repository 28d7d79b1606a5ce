"""Format ids -> format objects, and the data files that describe each family.

Every format module registers a factory for the ids it understands (a regular
expression, so ``exl2-4.65`` and ``gptq-int4`` parse), and lists the ids to show
in messages. Facts (bits, block sizes, scale dtypes, roles kept in 16-bit, sources)
live in ``data/formats/<family>.json`` and are read through :func:`format_data`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from planner.errors import PlannerError
from planner.formats.base import QuantFormat
from planner.frozen import record

FORMATS_DIR = Path(__file__).resolve().parents[2] / "data" / "formats"


class UnknownFormatError(PlannerError):
    """A format id the planner does not know; the message lists the valid ones."""


@record
class FormatOptions:
    """Options some formats take (``None`` means the format's own default)."""

    group_size: int | None = None  # GPTQ/AWQ/HQQ group size (default 128; -1 = per channel)
    double_quant: bool | None = None  # bitsandbytes 4-bit: quantize the absmax too
    act_order: bool = False  # GPTQ desc_act: g_idx is stored (it always is in the checkpoint)
    head_bits: int | None = None  # EXL2/EXL3 lm_head bits (default 6)


FormatFactory = Callable[[str, FormatOptions], QuantFormat]
_FACTORIES: list[tuple[re.Pattern[str], FormatFactory, tuple[str, ...]]] = []


def register_format(pattern: str, listed: tuple[str, ...]) -> Callable[[FormatFactory], FormatFactory]:
    """Register ``factory`` for ids fully matching ``pattern``; ``listed`` are the ids shown to users."""

    def deco(factory: FormatFactory) -> FormatFactory:
        _FACTORIES.append((re.compile(pattern, re.IGNORECASE), factory, listed))
        return factory

    return deco


def format_ids() -> list[str]:
    """Every id users can type (parametric families shown as e.g. ``exl2-<bpw>``)."""
    return [i for _, _, listed in _FACTORIES for i in listed]


def parse_format(format_id: str, options: FormatOptions | None = None) -> QuantFormat:
    """The format for ``format_id`` (case-insensitive), or :class:`UnknownFormatError`.

    One object per id and options (formats are immutable), so what is remembered per format object
    (weights reports, GGUF plans) is shared by every caller that names the same format.
    """
    found = _parse(format_id.strip().lower(), options or FormatOptions())
    if found is None:
        raise UnknownFormatError(
            f"unknown format '{format_id:.40}'; valid formats: {', '.join(format_ids())}"
        )
    return found


@lru_cache(maxsize=1024)
def _parse(text: str, options: FormatOptions) -> QuantFormat | None:
    for pattern, factory, _ in _FACTORIES:
        if pattern.fullmatch(text):
            return factory(text, options)
    return None


@cache
def format_data(family: str) -> dict[str, Any]:
    """The facts file of one format family, validated: every entry has an id, a description and a source."""
    path = FORMATS_DIR / f"{family}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("formats"), dict):
        raise PlannerError(f"{path.name}: must hold an object with a 'formats' object")
    for key, entry in data["formats"].items():
        for field in ("description", "source"):
            if not isinstance(entry.get(field), str) or not entry[field].strip():
                raise PlannerError(f"{path.name}: format '{key}' needs a '{field}'")
    return data
