"""VRAM Planner's pure core: model descriptions, memory arithmetic and fit answers.

No torch, no streamlit. The app, the CLI and the verifier all call these functions.
"""

from planner.catalog import CatalogEntry, load_catalog
from planner.errors import ConfigError, ModelNotFoundError, PlannerError
from planner.model import AttentionKind, ModelSpec, Role, model_from_bytes, model_from_config
from planner.resolve import load_model

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
