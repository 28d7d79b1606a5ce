"""Engines (transformers, vLLM, llama.cpp) and the one entry point for a memory estimate."""

from __future__ import annotations

import importlib
import pkgutil

from planner.engines.base import Engine
from planner.formats.base import QuantFormat
from planner.memory.estimate import MemoryEstimate, RunSettings, SettingsError
from planner.model.spec import ModelSpec

_ENGINES: dict[str, Engine] = {}


def register_engine(engine: Engine) -> Engine:
    """Add ``engine`` to the registry (each engine module calls this once)."""
    _ENGINES[engine.id] = engine
    return engine


def engine_ids() -> list[str]:
    """Every engine id, in registration order."""
    return list(_ENGINES)


def get_engine(engine_id: str) -> Engine:
    """The engine for ``engine_id`` (case-insensitive; ``llamacpp``/``ollama`` mean llama.cpp)."""
    key = engine_id.strip().lower()
    key = {
        "llamacpp": "llama.cpp",
        "llama-cpp": "llama.cpp",
        "ollama": "llama.cpp",
        "hf": "transformers",
    }.get(key, key)
    if key not in _ENGINES:
        raise SettingsError(f"unknown engine '{engine_id:.40}'; valid engines: {', '.join(engine_ids())}")
    return _ENGINES[key]


def default_engine(fmt: QuantFormat) -> Engine:
    """The engine a format is normally run with: llama.cpp for GGUF file types, else transformers."""
    if fmt.family == "gguf" and "llama.cpp" in _ENGINES:
        return _ENGINES["llama.cpp"]
    for engine in _ENGINES.values():
        if engine.loads(fmt):
            return engine
    raise SettingsError(f"no engine loads format '{fmt.id}'")


def estimate(
    spec: ModelSpec, fmt: QuantFormat, engine: str | None = None, settings: RunSettings | None = None
) -> MemoryEstimate:
    """Memory for ``spec`` in ``fmt`` on ``engine`` (default: the format's usual engine)."""
    chosen = get_engine(engine) if engine else default_engine(fmt)
    if not chosen.loads(fmt):
        loaders = [e.id for e in _ENGINES.values() if e.loads(fmt)]
        raise SettingsError(
            f"{chosen.id} does not load '{fmt.id}' weights; engines that do: {', '.join(loaders) or 'none'}"
        )
    return chosen.estimate(spec, fmt, settings or RunSettings())


__all__ = ["Engine", "default_engine", "engine_ids", "estimate", "get_engine", "register_engine"]

for _name in ("transformers", "vllm", "llamacpp"):
    if any(m.name == _name for m in pkgutil.iter_modules(__path__)):
        importlib.import_module(f"{__name__}.{_name}")
