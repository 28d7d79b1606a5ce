"""Architecture registry: ``model_type`` -> the function that reads that config.

Each module in this package registers its builders with :func:`register`. A module is imported
when a config of one of its types is read (:data:`MODULE_OF` says which; a test holds it equal to
what the modules register), so a catalog estimate loads one family, not all of them. A type the
index does not name makes every module load before the answer, so adding a family is adding a
file (and a line here, for speed).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from functools import cache
from typing import Any

from planner.model.config import ConfigView
from planner.model.spec import ModelSpec

#: A builder reads the (text) config and returns the model description.
#: ``root`` is the whole config.json, for wrappers that also hold a vision tower.
ArchBuilder = Callable[[ConfigView, str, dict[str, Any]], ModelSpec]

_REGISTRY: dict[str, ArchBuilder] = {}


def register(*model_types: str) -> Callable[[ArchBuilder], ArchBuilder]:
    """Register ``fn`` as the builder for each of ``model_types``."""

    def deco(fn: ArchBuilder) -> ArchBuilder:
        for model_type in model_types:
            if model_type in _REGISTRY:
                raise RuntimeError(f"architecture {model_type!r} registered twice")
            _REGISTRY[model_type] = fn
        return fn

    return deco


def builder_for(model_type: str) -> ArchBuilder | None:
    """The builder for ``model_type``, or ``None`` when the planner does not know it."""
    found = _REGISTRY.get(model_type)
    if found is None:
        module = MODULE_OF.get(model_type)
        if module is not None:
            importlib.import_module(f"{__name__}.{module}")
        else:
            load_all()
        found = _REGISTRY.get(model_type)
    return found


def supported_architectures() -> list[str]:
    """Every ``model_type`` with an exact builder, sorted."""
    load_all()
    return sorted(_REGISTRY)


@cache
def load_all() -> None:
    """Import every module of this package (each registers its types)."""
    for module in pkgutil.iter_modules(__path__):
        if module.name != "common":
            importlib.import_module(f"{__name__}.{module.name}")


#: ``model_type`` -> the module of this package that registers it.
MODULE_OF: dict[str, str] = {
    "RefinedWeb": "falcon",
    "RefinedWebModel": "falcon",
    "apertus": "apertus",
    "bamba": "bamba",
    "deepseek_v2": "deepseek",
    "deepseek_v3": "deepseek",
    "deepseek_v32": "deepseek",
    "ernie4_5": "ernie",
    "ernie4_5_moe": "ernie",
    "falcon": "falcon",
    "falcon_h1": "falcon_h1",
    "gemma": "gemma",
    "gemma2": "gemma",
    "gemma3": "gemma",
    "gemma3_text": "gemma",
    "gemma3n_text": "gemma3n",
    "gemma4_text": "gemma4",
    "glm4_moe": "glm4_moe",
    "glm_moe_dsa": "deepseek",
    "gpt_bigcode": "gpt_bigcode",
    "gpt_oss": "gpt_oss",
    "granite": "llama",
    "granitemoehybrid": "granite_hybrid",
    "jamba": "jamba",
    "kimi_k2": "deepseek",
    "kimi_linear": "kimi_linear",
    "lfm2": "lfm2",
    "llama": "llama",
    "llama4_text": "llama4",
    "mamba": "mamba",
    "mamba2": "mamba2",
    "minimax": "minimax",
    "minimax_m2": "minimax",
    "mistral": "llama",
    "mistral4": "deepseek",
    "mixtral": "llama",
    "nemotron_h": "nemotron_h",
    "olmo2": "olmo",
    "olmo3": "olmo",
    "phi3": "llama",
    "phimoe": "phimoe",
    "qwen2": "llama",
    "qwen2_moe": "llama",
    "qwen3": "llama",
    "qwen3_5_moe_text": "qwen3_5",
    "qwen3_5_text": "qwen3_5",
    "qwen3_moe": "llama",
    "qwen3_next": "qwen3_next",
    "seed_oss": "seed_oss",
    "smollm3": "smollm3",
}
