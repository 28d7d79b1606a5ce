"""Engines and the one entry point for a memory estimate.

Each engine is one package here (``transformers/``, ``vllm/``, ``llamacpp/``, ...) that owns its
rules: ``engine.py`` (the :class:`Engine`: settings, notes, assembly; registers itself),
``kv.py`` (how it allocates the KV cache), ``activations.py`` (its transient buffers),
``overhead.py`` (what the process holds beyond tensors) and, where placement is its own,
``weights.py``. Shared, engine-neutral pieces live in :mod:`planner.engines.common`,
:mod:`planner.engines.constants`, :mod:`planner.engines.shape` and :mod:`planner.memory.kv`.
Adding an engine is adding one package: the registry imports each package on first use
(:mod:`planner.engines.registry`).
"""

from __future__ import annotations

from planner.engines.base import Engine, Launch
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
        raise SettingsError(refusal(chosen, fmt))
    settings = settings or RunSettings()
    return chosen.with_extras(spec, fmt, settings, chosen.estimate(spec, fmt, settings))


def refusal(engine: Engine, fmt: QuantFormat) -> str:
    """Why ``engine`` cannot run ``fmt``, naming the format it loads instead (if any) and the engines that do."""
    loaders = [e.id for e in engines() if e.loads(fmt)]
    hint = engine.format_hint(fmt)
    text = f"{engine.id} does not load '{fmt.id}' weights"
    if hint:
        text += f"; {hint}"
    return f"{text}; engines that load '{fmt.id}': {', '.join(loaders) or 'none'}"


__all__ = [
    "Engine",
    "Launch",
    "default_engine",
    "engine_ids",
    "engines",
    "estimate",
    "get_engine",
    "refusal",
    "register_engine",
]
