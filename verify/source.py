"""Where a model's config (and, for checkpoint runs, its weights) comes from.

The order is the planner's (:func:`planner.resolve.load_model`): catalog id, local
``config.json`` or folder, Hub id. The prediction always comes from the planner's
own resolution of the same reference, so both sides read one config.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.catalog import find_entry
from planner.errors import ModelNotFoundError
from planner.model import ModelSpec, model_from_config
from planner.model.config import MAX_CONFIG_BYTES
from planner.resolve import load_model
from verify.hf import tiny_config


@dataclass(frozen=True, slots=True)
class ModelSource:
    """A resolved model reference: its kind (``catalog``, ``local``, ``hub``), config and folder."""

    ref: str
    kind: str
    config: dict[str, Any]
    folder: str | None = None

    @property
    def has_weights(self) -> bool:
        """A local folder with safetensors or PyTorch weights (a Hub id may have them too)."""
        if self.kind == "hub":
            return True
        if self.folder is None:
            return False
        folder = Path(self.folder)
        return any(folder.glob("*.safetensors")) or any(folder.glob("pytorch_model*.bin"))


def resolve(ref: str, *, allow_hub: bool = True) -> ModelSource:
    """The config behind ``ref`` (catalog id, ``config.json`` path or folder, Hub id)."""
    ref = ref.strip()
    entry = find_entry(ref)
    if entry is not None:
        return ModelSource(entry.id, "catalog", dict(entry.config))
    path = Path(ref).expanduser()
    if path.is_dir() and (path / "config.json").is_file():
        return ModelSource(ref, "local", _read(path / "config.json"), str(path))
    if path.is_file():
        return ModelSource(ref, "local", _read(path), str(path.parent))
    if ref.endswith(".json") or ref.startswith((".", "/", "~")):
        raise ModelNotFoundError(f"no such file: {ref}")
    if not allow_hub:
        raise ModelNotFoundError(f"'{ref}' is not in the shipped catalog and the Hub is not allowed")
    from planner import hub

    return ModelSource(ref, "hub", hub.fetch_config(ref))


def _read(path: Path) -> dict[str, Any]:
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ModelNotFoundError(f"{path} is larger than a config.json can be")
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ModelNotFoundError(f"{path} does not hold a JSON object")
    return data


def build_config(source: ModelSource, tiny: bool) -> dict[str, Any]:
    """The config the verifier builds: the source's, or its tiny look-alike."""
    return tiny_config(source.config) if tiny else source.config


def planner_spec(source: ModelSource, tiny: bool) -> ModelSpec:
    """The planner's model for the same config (its own resolution when not shrunk)."""
    if tiny:
        return model_from_config(build_config(source, tiny), name=f"{source.ref} (tiny)")
    return load_model(source.ref)


__all__ = ["ModelSource", "build_config", "planner_spec", "resolve"]
