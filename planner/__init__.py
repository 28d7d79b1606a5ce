"""VRAM Planner's pure core: model descriptions, memory arithmetic and fit answers.

No torch, no streamlit. The app, the CLI and the verifier all call these functions. The names below
load on first use (PEP 562), so ``python -m planner gpus`` does not read the model catalog.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from planner.catalog import CatalogEntry, load_catalog
    from planner.errors import ConfigError, ModelNotFoundError, PlannerError
    from planner.model import AttentionKind, ModelSpec, Role, model_from_bytes, model_from_config
    from planner.resolve import load_model

_WHERE = {
    "CatalogEntry": "planner.catalog",
    "load_catalog": "planner.catalog",
    "ConfigError": "planner.errors",
    "ModelNotFoundError": "planner.errors",
    "PlannerError": "planner.errors",
    "AttentionKind": "planner.model",
    "ModelSpec": "planner.model",
    "Role": "planner.model",
    "model_from_bytes": "planner.model",
    "model_from_config": "planner.model",
    "load_model": "planner.resolve",
}

__all__ = [
    "AttentionKind",
    "CatalogEntry",
    "ConfigError",
    "ModelNotFoundError",
    "ModelSpec",
    "PlannerError",
    "Role",
    "load_catalog",
    "load_model",
    "model_from_bytes",
    "model_from_config",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'planner' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
