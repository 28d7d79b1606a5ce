"""Engines and the one entry point for a memory estimate.

Each engine is one package here (``transformers/``, ``vllm/``, ``llamacpp/``, ...) that owns its
rules: ``engine.py`` (the :class:`Engine`: settings, notes, assembly; registers itself),
``kv.py`` (how it allocates the KV cache), ``activations.py`` (its transient buffers),
``overhead.py`` (what the process holds beyond tensors) and, where placement is its own,
``weights.py``. Shared, engine-neutral pieces live in :mod:`planner.engines.common`,
:mod:`planner.engines.constants`, :mod:`planner.engines.shape` and :mod:`planner.memory.kv`.
Adding an engine is adding one package: every package in this folder is imported here.
"""

from __future__ import annotations

import importlib
import pkgutil

from planner.engines.base import Engine
from planner.engines.registry import (
    default_engine,
    engine_ids,
    engines,
    get_engine,
    register_engine,
)
from planner.formats.base import QuantFormat
from planner.memory.estimate import MemoryEstimate, RunSettings, SettingsError
from planner.model.spec import ModelSpec


def estimate(
    spec: ModelSpec, fmt: QuantFormat, engine: str | None = None, settings: RunSettings | None = None
) -> MemoryEstimate:
    """Memory for ``spec`` in ``fmt`` on ``engine`` (default: the format's usual engine)."""
    chosen = get_engine(engine) if engine else default_engine(fmt)
    if not chosen.loads(fmt):
        loaders = [e.id for e in engines() if e.loads(fmt)]
        raise SettingsError(
            f"{chosen.id} does not load '{fmt.id}' weights; engines that do: {', '.join(loaders) or 'none'}"
        )
    return chosen.estimate(spec, fmt, settings or RunSettings())


__all__ = ["Engine", "default_engine", "engine_ids", "engines", "estimate", "get_engine", "register_engine"]

#: Registration order of the first engines (it orders menus and CLI choices); any other package follows by name.
_FIRST = ("transformers", "vllm", "llamacpp")


def _discover() -> None:
    packages = sorted(m.name for m in pkgutil.iter_modules(__path__) if m.ispkg)
    for name in sorted(packages, key=lambda n: (_FIRST.index(n) if n in _FIRST else len(_FIRST), n)):
        importlib.import_module(f"{__name__}.{name}")


_discover()
