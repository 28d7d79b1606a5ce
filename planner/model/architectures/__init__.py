"""Architecture registry: ``model_type`` -> the function that reads that config.

Each module in this package registers its builders with :func:`register`; every
module is imported here, so adding a family is adding a file.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
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
    return _REGISTRY.get(model_type)


def supported_architectures() -> list[str]:
    """Every ``model_type`` with an exact builder, sorted."""
    return sorted(_REGISTRY)


for _module in pkgutil.iter_modules(__path__):
    if _module.name != "common":
        importlib.import_module(f"{__name__}.{_module.name}")
