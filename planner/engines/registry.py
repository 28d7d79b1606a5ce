"""The engine registry: each engine package registers one :class:`Engine` when it is imported.

Packages are imported on first use: :func:`get_engine` and :func:`default_engine` import only the
package they need (a CLI answer on llama.cpp never loads vLLM's rules); :func:`engines` and
:func:`engine_ids` import every package in ``planner/engines/``, so adding an engine is adding a
package.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from planner.engines.base import Engine
from planner.formats.base import QuantFormat
from planner.memory.estimate import SettingsError

_ENGINES: dict[str, Engine] = {}
_BY_PACKAGE: dict[str, list[Engine]] = {}  # package -> the engines it registered, once imported

#: Other names users type for an engine id.
ALIASES = {
    "llamacpp": "llama.cpp",
    "llama-cpp": "llama.cpp",
    "ollama": "llama.cpp",
    "hf": "transformers",
}

#: The first engines in menus and CLI choices; every other package follows by name.
_FIRST = ("transformers", "vllm", "llamacpp")


@cache
def _packages() -> tuple[str, ...]:
    """The engine packages of ``planner/engines/``, in menu order."""
    import planner.engines as root

    names = sorted(m.name for m in pkgutil.iter_modules(root.__path__) if m.ispkg)
    return tuple(sorted(names, key=lambda n: (_FIRST.index(n) if n in _FIRST else len(_FIRST), n)))


def _package_of(engine: Engine) -> str:
    """The package under ``planner/engines/`` that defines ``engine`` (its module, for one defined elsewhere)."""
    module = type(engine).__module__
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["planner", "engines"] else module


def _load(package: str) -> list[Engine]:
    """Import one engine package; the engines it registered."""
    found = _BY_PACKAGE.get(package)
    if found is None:
        importlib.import_module(f"planner.engines.{package}")
        found = _BY_PACKAGE[package] = [e for e in _ENGINES.values() if _package_of(e) == package]
    return found


def register_engine(engine: Engine) -> Engine:
    """Add ``engine`` to the registry (each engine package calls this once)."""
    _ENGINES[engine.id] = engine
    _BY_PACKAGE.pop(_package_of(engine), None)
    return engine


def engines() -> list[Engine]:
    """Every engine, in menu order (imports every engine package)."""
    order = _packages()
    for package in order:
        _load(package)
    rank = {package: i for i, package in enumerate(order)}
    return sorted(_ENGINES.values(), key=lambda e: rank.get(_package_of(e), len(order)))


def engine_ids() -> list[str]:
    """Every engine id, in menu order."""
    return [e.id for e in engines()]


def _registered(key: str) -> Engine | None:
    """The engine ``key`` names, importing the package of that name when there is one."""
    if key not in _ENGINES and (package := key.replace(".", "")) in _packages():
        _load(package)
    return _ENGINES.get(key)


def get_engine(engine_id: str) -> Engine:
    """The engine for ``engine_id`` (case-insensitive; ``llamacpp`` means llama.cpp)."""
    key = engine_id.strip().lower()
    found = _registered(key) or (_registered(ALIASES[key]) if key in ALIASES else None)
    if found is None:
        raise SettingsError(f"unknown engine '{engine_id:.40}'; valid engines: {', '.join(engine_ids())}")
    return found


def default_engine(fmt: QuantFormat) -> Engine:
    """The engine a format is normally run with: llama.cpp for GGUF file types, else the first in menu
    order that loads it (transformers for every format it loads)."""
    if fmt.family == "gguf" and (found := _registered("llama.cpp")) is not None:
        return found
    for package in _packages():
        for engine in _load(package):
            if engine.loads(fmt):
                return engine
    raise SettingsError(f"no engine loads format '{fmt.id}'")
