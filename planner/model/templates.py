"""Tensor templates: every model type transformers knows, counted without torch.

``data/templates/<kind>/<model_type>.json`` lists each tensor of a model type as a name
pattern, a role and a shape given as small expressions over config fields, with the rule
for which layers (or experts) repeat it and when it exists at all. They are derived offline
from transformers' own modeling code by ``scripts/derive_templates.py`` (the model built on
the meta device from its default config and from perturbed configs) and carry their source.

The config fields a template reads are resolved the way transformers' config class would:
the value given, else (absent, or null where transformers treats null as absent) the derived
default (``head_dim = hidden_size // num_attention_heads``) or the class default; aliases
from the class's ``attribute_map`` are honoured.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from planner.errors import ConfigError, InvalidFieldError, MissingFieldError
from planner.model.config import LIMITS
from planner.model.expr import ExprError, evaluate, names

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "data" / "templates"
#: Template kinds, in the order a config without a vision part looks them up.
KINDS = ("causal", "image_text")
#: Largest repeat count of one level (layers, experts, vision blocks).
MAX_REPEAT = LIMITS["experts"]


@cache
def available() -> dict[str, frozenset[str]]:
    """``{kind: model types with a template}``."""
    out = {}
    for kind in (*KINDS, "base"):
        folder = TEMPLATES_DIR / kind
        out[kind] = frozenset(p.stem for p in folder.glob("*.json")) if folder.is_dir() else frozenset()
    return out


@lru_cache(maxsize=512)
def load(kind: str, model_type: str) -> dict[str, Any] | None:
    """The template of ``model_type`` for ``kind``, or ``None``."""
    if model_type not in available().get(kind, ()):
        return None
    return json.loads((TEMPLATES_DIR / kind / f"{model_type}.json").read_text(encoding="utf-8"))


def find(model_type: str, raw: Mapping[str, Any]) -> dict[str, Any] | None:
    """The template that describes ``raw``: the image-text one when it has a vision part."""
    multimodal = any(isinstance(raw.get(k), Mapping) for k in ("vision_config", "audio_config"))
    order = ("image_text", "causal") if multimodal else KINDS
    for kind in order:
        tpl = load(kind, model_type)
        if tpl is not None:
            return tpl
    return None


class Fields:
    """Config values as the template reads them, resolved like transformers' config class."""

    def __init__(self, template: Mapping[str, Any], raw: Mapping[str, Any]) -> None:
        self.rules: Mapping[str, Any] = template["config"]["fields"]
        self.aliases: Mapping[str, Mapping[str, str]] = template["config"].get("aliases", {})
        self.raw = raw
        self.cache: dict[str, Any] = {}
        self.busy: set[str] = set()

    def section(self, path: str) -> tuple[Mapping[str, Any] | None, str, str]:
        """``(the raw dict holding path's leaf or None when its section is absent, section, leaf)``."""
        if "." in path:
            section, leaf = path.rsplit(".", 1)
        else:
            section, leaf = "", path
        node: Any = self.raw
        for part in section.split(".") if section else ():
            node = node.get(part) if isinstance(node, Mapping) else None
            if node is None:
                return None, section, leaf
            if not isinstance(node, Mapping):
                raise InvalidFieldError(section, f"must be an object, not {type(node).__name__}")
        return node, section, leaf

    def given(self, path: str) -> tuple[bool, Any]:
        """``(present, value)`` of ``path`` in the user's config, aliases included."""
        node, section, leaf = self.section(path)
        if node is None:
            return False, None
        if leaf in node:
            return True, node[leaf]
        for alias, canonical in self.aliases.get(section, {}).items():
            if canonical == leaf and alias in node:
                return True, node[alias]
            if alias == leaf and canonical in node:
                return True, node[canonical]
        return False, None

    def __call__(self, path: str) -> Any:
        if path in self.cache:
            return self.cache[path]
        if path in self.busy:
            raise ConfigError(f"config field '{path}' is defined in terms of itself")
        self.busy.add(path)
        try:
            value = self._resolve(path)
        finally:
            self.busy.discard(path)
        self.cache[path] = value
        return value

    def _resolve(self, path: str) -> Any:
        rule = self.rules.get(path)
        if rule is None:
            raise ConfigError(f"the template does not know the config field '{path}'")
        present, value = self.given(path)
        if present and (value is not None or rule.get("null") != "default"):
            return _checked(path, value, rule)
        node, _, _ = self.section(path)
        if node is None and "." in path and "base" in rule:
            return rule["base"]
        if "derived" in rule:
            return _checked(path, evaluate(rule["derived"], self), rule)
        if "derived_list" in rule:
            spec = rule["derived_list"]
            n = _count(path, evaluate(spec["length"], self))
            return [evaluate(spec["item"], _Scope(self, i=i, n=n)) for i in range(n)]
        if rule.get("required"):
            raise MissingFieldError(path)
        return rule.get("default")


def _count(path: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidFieldError(path, f"must be an integer, not {value!r:.40}")
    if value < 0 or value > MAX_REPEAT:
        raise InvalidFieldError(path, f"is {value:,}; the planner accepts 0 to {MAX_REPEAT:,}")
    return value


def _limit(path: str) -> int:
    leaf = path.rsplit(".", 1)[-1]
    if "layer" in leaf:
        return LIMITS["layers"]
    if "expert" in leaf:
        return LIMITS["experts"]
    if "vocab" in leaf:
        return LIMITS["vocab"]
    return LIMITS["positions"]


def _checked(path: str, value: Any, rule: Mapping[str, Any]) -> Any:
    """Type and range checks: the value must be of the kind transformers' default is."""
    default = rule.get("default")
    if "derived" in rule and default is None:
        default = 0
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise InvalidFieldError(path, f"must be true or false, not {value!r:.40}")
        return value
    if isinstance(default, int) or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        if isinstance(value, float) and not isinstance(default, float):
            if not math.isfinite(value) or not value.is_integer():
                raise InvalidFieldError(path, f"must be an integer, not {value!r}")
            value = int(value)
        if isinstance(value, bool) and not isinstance(default, bool) and default is not None:
            raise InvalidFieldError(path, f"must be a number, not {value}")
        if isinstance(default, int) and not isinstance(default, bool) and not isinstance(value, int):
            raise InvalidFieldError(path, f"must be an integer, not {value!r:.40}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if isinstance(value, float) and not math.isfinite(value):
                raise InvalidFieldError(path, "must be finite")
            if abs(value) > _limit(path):
                raise InvalidFieldError(path, f"is {value:,}; the planner accepts at most {_limit(path):,}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InvalidFieldError(path, f"must be a number, not {value!r:.40}")
        return value
    if isinstance(default, str) and not isinstance(value, str):
        raise InvalidFieldError(path, f"must be a string, not {value!r:.40}")
    if isinstance(default, list):
        if not isinstance(value, list):
            raise InvalidFieldError(path, f"must be a list, not {type(value).__name__}")
        if len(value) > LIMITS["layers"] * 4:
            raise InvalidFieldError(path, f"has {len(value):,} entries; too many")
    return value


class _Scope:
    """A resolver with index variables (``i``, ``n``) on top of the config fields."""

    def __init__(self, fields: Fields, **local: int) -> None:
        self.fields = fields
        self.local = local

    def __call__(self, name: str) -> Any:
        if name in self.local:
            return self.local[name]
        return self.fields(name)


def dims(entry: Mapping[str, Any], scope: Any) -> tuple[int, ...]:
    """The shape of one tensor of ``entry`` (negative sizes name their fields)."""
    out = []
    for text in entry["shape"]:
        value = evaluate(text, scope)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ExprError(f"{entry['name']}: the size '{text}' is not an integer ({value!r:.40})")
        if value < 0:
            fields = ", ".join(sorted(names(text) - {"i", "n"})) or text
            raise InvalidFieldError(fields, f"gives {entry['name']} a negative size ({value:,})")
        if value > LIMITS["positions"] * 16:
            fields = ", ".join(sorted(names(text) - {"i", "n"})) or text
            raise InvalidFieldError(
                fields, f"gives {entry['name']} a size of {value:,}, beyond any real model"
            )
        out.append(value)
    return tuple(out)


def uses_index(entry: Mapping[str, Any]) -> bool:
    return any("i" in names(text) or "n" in names(text) for text in entry["shape"])
