"""Engine defaults and empirical constants (``data/engines.json``).

Every non-exact number an engine model uses lives in ``data/engines.json`` with a value, a
low/high band, a source and a calibration note; this module is the only reader, so a
calibration edits data, never code. (The model widths the engines share are in
:mod:`planner.engines.shape`, re-exported here.)
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from planner.engines.shape import ModelShape, model_dtype, model_shape
from planner.errors import PlannerError
from planner.frozen import record
from planner.hardware.units import MIB
from planner.memory.figure import Figure

ENGINES_FILE = Path(__file__).resolve().parents[2] / "data" / "engines.json"


@record
class Constant:
    """One empirical constant: ``value`` within ``[low, high]``, where it comes from, how to calibrate it."""

    name: str
    value: float
    low: float
    high: float
    source: str
    note: str

    @property
    def bytes(self) -> int:
        """The value in bytes (for ``*_mib`` constants)."""
        return round(self.value * MIB)

    @property
    def band_bytes(self) -> tuple[int, int]:
        """``(low, high)`` in bytes (for ``*_mib`` constants)."""
        return round(self.low * MIB), round(self.high * MIB)

    def scale(self, n: int) -> tuple[int, int, int]:
        """``(n x value, n x low, n x high)`` rounded to bytes (for ``*_factor`` / ``*_fraction`` constants)."""
        return round(n * self.value), round(n * self.low), round(n * self.high)


@cache
def _data() -> dict[str, Any]:
    data = json.loads(ENGINES_FILE.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("constants"), dict):
        raise PlannerError(f"{ENGINES_FILE.name}: must hold a 'constants' object")
    for name, entry in data["constants"].items():
        for key in ("value", "low", "high"):
            if not isinstance(entry.get(key), int | float):
                raise PlannerError(f"{ENGINES_FILE.name}: constant '{name}' needs a numeric '{key}'")
        if not entry["low"] <= entry["value"] <= entry["high"]:
            raise PlannerError(f"{ENGINES_FILE.name}: constant '{name}' must satisfy low <= value <= high")
        for key in ("source", "note"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise PlannerError(f"{ENGINES_FILE.name}: constant '{name}' needs a '{key}'")
        if "calibrate" not in entry["note"]:
            raise PlannerError(f"{ENGINES_FILE.name}: constant '{name}' needs a calibration note")
    for engine, entries in data.get("defaults", {}).items():
        for name, entry in entries.items():
            if "value" not in entry or not str(entry.get("source", "")).strip():
                raise PlannerError(
                    f"{ENGINES_FILE.name}: default '{engine}.{name}' needs a value and a source"
                )
    return data


def reload_constants() -> None:
    """Read ``data/engines.json`` again (after a calibration rewrote it)."""
    _data.cache_clear()
    _constant.cache_clear()


def constant(name: str) -> Constant:
    """The empirical constant ``name`` from ``data/engines.json``."""
    return _constant(name)


@cache
def _constant(name: str) -> Constant:
    entry = _data()["constants"].get(name)
    if entry is None:
        raise PlannerError(f"{ENGINES_FILE.name}: no constant '{name}'")
    return Constant(name, entry["value"], entry["low"], entry["high"], entry["source"], entry["note"])


def constant_names() -> list[str]:
    """Every empirical constant's name."""
    return list(_data()["constants"])


def default(engine: str, name: str) -> Any:
    """An engine default (exact, cited) from ``data/engines.json``."""
    try:
        return _data()["defaults"][engine][name]["value"]
    except KeyError as exc:
        raise PlannerError(f"{ENGINES_FILE.name}: no default '{engine}.{name}'") from exc


def default_source(engine: str, name: str) -> str:
    """Where an engine default comes from."""
    return _data()["defaults"][engine][name]["source"]


def empirical(
    point: int, low: int, high: int, rule: str, *, keys: tuple[str, ...], source: str, parts: dict[str, int]
) -> Figure:
    """A non-exact figure: ``point`` within ``[low, high]`` (clamped so low <= point <= high)."""
    low, high = min(low, point), max(high, point)
    return Figure(
        max(point, 0), rule, keys=keys, source=source, exact=False, low=max(low, 0), high=high, parts=parts
    )


__all__ = [
    "ENGINES_FILE",
    "Constant",
    "ModelShape",
    "constant",
    "constant_names",
    "default",
    "default_source",
    "empirical",
    "model_dtype",
    "model_shape",
    "reload_constants",
]
