"""The engine registry: each engine package registers one :class:`Engine` when it is imported."""

from __future__ import annotations

from planner.engines.base import Engine
from planner.formats.base import QuantFormat
from planner.memory.estimate import SettingsError

_ENGINES: dict[str, Engine] = {}

#: Other names users type for an engine id.
ALIASES = {
    "llamacpp": "llama.cpp",
    "llama-cpp": "llama.cpp",
    "ollama": "llama.cpp",
    "hf": "transformers",
}


def register_engine(engine: Engine) -> Engine:
    """Add ``engine`` to the registry (each engine package calls this once)."""
    _ENGINES[engine.id] = engine
    return engine


def engine_ids() -> list[str]:
    """Every engine id, in registration order."""
    return list(_ENGINES)


def engines() -> list[Engine]:
    """Every registered engine, in registration order."""
    return list(_ENGINES.values())


def get_engine(engine_id: str) -> Engine:
    """The engine for ``engine_id`` (case-insensitive; ``llamacpp``/``ollama`` mean llama.cpp)."""
    key = engine_id.strip().lower()
    key = key if key in _ENGINES else ALIASES.get(key, key)
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
