"""The shipped model catalog (``data/models/*.json``), read and validated in one place.

A bad row fails here (and so in the tests), never on a user's page.
"""

from __future__ import annotations

import json
import re
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from planner.errors import ModelNotFoundError, PlannerError
from planner.frozen import record
from planner.model import ModelSpec, model_from_config

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
MODELS_DIR = DATA_DIR / "models"
VARIANTS = ("base", "instruct", "base+instruct")


class CatalogError(PlannerError):
    """A catalog file is malformed (a bug in ``data/``, caught by the tests)."""


@record
class ReferenceCount:
    """A published parameter count, where it was published, and how to read it.

    ``rounded_to`` is the unit a rounded figure was published in (1e8 for "15.5B"), so it
    is checked to its own precision. ``not_loaded`` counts parameters in the published
    total that no runtime loads (a stored copy of a tied head, rotary buffers), with
    ``not_loaded_what`` saying which. ``not_parameters`` counts elements the published total
    includes that are not model parameters at all (an FP8 checkpoint's block scales, which the
    Hub's safetensors total counts), with ``not_parameters_what``. ``active_excludes`` lists roles
    the publisher leaves out of its "active" figure (OpenAI and DeepSeek leave out the input embedding).
    """

    total: int
    source: str
    active: int | None = None
    note: str | None = None
    rounded_to: int = 1
    active_rounded_to: int = 1
    not_loaded: int = 0
    not_loaded_what: str | None = None
    active_excludes: tuple[str, ...] = ()
    not_parameters: int = 0
    not_parameters_what: str | None = None

    @property
    def loaded_total(self) -> int:
        """The published total less what is never loaded and what is no parameter: what the planner counts."""
        return self.total - self.not_loaded - self.not_parameters


@record
class CatalogEntry:
    """One shipped model: its config and the figures it is checked against."""

    id: str
    name: str
    family: str
    variant: str
    license: str | None
    config_source: str
    reference: ReferenceCount
    config: dict[str, Any]

    def spec(self) -> ModelSpec:
        """The planner's description of this model (built once per id; the same object every time)."""
        found = _SPECS.get(self.id)
        if found is None:
            found = _SPECS.setdefault(self.id, model_from_config(self.config, name=self.id))
        return found


#: Specs by catalog id: the solvers and caches key on a spec's identity, so each id has one.
_SPECS: dict[str, ModelSpec] = {}


def adopt_spec(model_id: str, spec: ModelSpec) -> ModelSpec:
    """Make ``spec`` (read back from :mod:`planner.catalog_cache`) the spec of ``model_id``, unless this
    process already holds one: that one is returned and kept (caches key on a spec's identity)."""
    return _SPECS.setdefault(model_id, spec)


def _require(row: dict[str, Any], key: str, kind: type, path: Path) -> Any:
    value = row.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise CatalogError(f"{path.name}: '{key}' must be a {kind.__name__}")
    return value


def _entry(path: Path) -> CatalogEntry:
    try:
        row = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CatalogError(f"{path.name}: unreadable ({exc})") from None
    if not isinstance(row, dict):
        raise CatalogError(f"{path.name}: must hold a JSON object")
    model_id = _require(row, "id", str, path)
    if path.stem != model_id.replace("/", "--"):
        raise CatalogError(f"{path.name}: file name does not match id '{model_id}'")
    variant = _require(row, "variant", str, path)
    if variant not in VARIANTS:
        raise CatalogError(f"{path.name}: variant must be one of {VARIANTS}")
    ref = _require(row, "reference", dict, path)
    total = _require(ref, "total", int, path)
    active = ref.get("active")
    if total <= 0 or (active is not None and not (isinstance(active, int) and 0 < active <= total)):
        raise CatalogError(f"{path.name}: reference counts must be positive, active <= total")
    license_ = row.get("license")
    not_loaded = ref.get("not_loaded") or {"parameters": 0, "what": None}
    if not isinstance(not_loaded, dict) or not isinstance(not_loaded.get("parameters"), int):
        raise CatalogError(f"{path.name}: reference.not_loaded must be {{'parameters': int, 'what': str}}")
    not_params = ref.get("not_parameters") or {"parameters": 0, "what": None}
    if not isinstance(not_params, dict) or not isinstance(not_params.get("parameters"), int):
        raise CatalogError(
            f"{path.name}: reference.not_parameters must be {{'parameters': int, 'what': str}}"
        )
    excludes = ref.get("active_excludes", [])
    if not isinstance(excludes, list) or not all(isinstance(r, str) for r in excludes):
        raise CatalogError(f"{path.name}: reference.active_excludes must be a list of role names")
    rounding = {k: ref.get(k, 1) for k in ("rounded_to", "active_rounded_to")}
    if not all(isinstance(v, int) and v >= 1 for v in rounding.values()):
        raise CatalogError(f"{path.name}: reference rounding units must be positive integers")
    return CatalogEntry(
        id=model_id,
        name=_require(row, "name", str, path),
        family=_require(row, "family", str, path),
        variant=variant,
        license=license_ if isinstance(license_, str) else None,
        config_source=_require(row, "config_source", str, path),
        reference=ReferenceCount(
            total=total,
            source=_require(ref, "source", str, path),
            active=active,
            note=ref.get("note"),
            not_loaded=not_loaded["parameters"],
            not_loaded_what=not_loaded.get("what"),
            not_parameters=not_params["parameters"],
            not_parameters_what=not_params.get("what"),
            active_excludes=tuple(excludes),
            **rounding,
        ),
        config=_require(row, "config", dict, path),
    )


@cache
def load_catalog() -> dict[str, CatalogEntry]:
    """Every catalog entry by Hugging Face id, in file-name order."""
    entries = {}
    for path in sorted(MODELS_DIR.glob("*.json")):
        entry = _entry(path)
        entries[entry.id] = entry
    return entries


def find_entry(model_id: str) -> CatalogEntry | None:
    """The entry for ``model_id`` (case-insensitive), or ``None``.

    An exact id is read from its own file (``org--name.json``) until the whole catalog is loaded, so
    a one-model answer (the CLI's ``estimate``) does not parse all the others.
    """
    if load_catalog.cache_info().currsize == 0 and (direct := _entry_file(model_id)) is not None:
        return direct
    catalog = load_catalog()
    if model_id in catalog:
        return catalog[model_id]
    lowered = model_id.lower()
    return next((e for k, e in catalog.items() if k.lower() == lowered), None)


@lru_cache(maxsize=256)
def _entry_file(model_id: str) -> CatalogEntry | None:
    org, sep, name = model_id.partition("/")
    if not sep or not _FILE_PART.fullmatch(org) or not _FILE_PART.fullmatch(name) or ".." in model_id:
        return None
    path = MODELS_DIR / f"{org}--{name}.json"
    if not path.is_file():
        return None
    entry = _entry(path)
    return entry if entry.id == model_id else None


_FILE_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")


def get_entry(model_id: str) -> CatalogEntry:
    """The entry for ``model_id`` or :class:`ModelNotFoundError`."""
    entry = find_entry(model_id)
    if entry is None:
        raise ModelNotFoundError(f"'{model_id}' is not in the shipped catalog")
    return entry
