"""A seeded generator of hostile ``config.json`` files, mutated from real ones.

Seeds: every catalog config (``data/models``) and the default config of every model type
with a template (``data/templates``: transformers' own defaults, rebuilt from the fields the
template reads). Mutations: wrong types, nulls, huge/negative/fractional/non-finite numbers,
missing fields, lists where numbers belong (and numbers where lists belong), deep nesting,
``model_type`` swapped at the top or inside ``text_config``/``vision_config``, sub-configs
replaced or emptied.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from typing import Any

from planner.catalog import load_catalog
from planner.model import templates


def template_default(tpl: dict[str, Any]) -> dict[str, Any]:
    """A config holding a template's defaults (the values transformers' config class starts from)."""
    config: dict[str, Any] = {"model_type": tpl["model_type"]}
    for section, model_type in (tpl.get("sub_configs") or {}).items():
        node = config
        for part in section.split("."):
            node = node.setdefault(part, {})
        node["model_type"] = model_type
    for path, rule in tpl["config"]["fields"].items():
        if rule.get("default") is None:
            continue
        node = config
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = copy.deepcopy(rule["default"])
    return config


def seeds() -> list[dict[str, Any]]:
    """Real configs: the catalog's and every template's defaults."""
    out = [copy.deepcopy(e.config) for e in load_catalog().values()]
    for kind, types in sorted(templates.available().items()):
        for model_type in sorted(types):
            tpl = templates.load(kind, model_type)
            if tpl is not None:
                out.append(template_default(tpl))
    return out


MODEL_TYPES = sorted(
    {t for types in templates.available().values() for t in types} | {"llama", "qwen2", "gemma3"}
)
HOSTILE = [
    None,
    True,
    False,
    0,
    -1,
    -(2**40),
    2**31,
    2**70,
    1e308,
    float("inf"),
    float("nan"),
    0.5,
    3.0,
    "",
    "64",
    "full_attention",
    [],
    [1, 2],
    [None],
    ["x"] * 3,
    {},
    {"a": 1},
]


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"x": value} if depth % 2 else [value]
    return value


def _sections(config: dict[str, Any]) -> list[dict[str, Any]]:
    out = [config]
    for key, value in config.items():
        if isinstance(value, dict) and (key.endswith("_config") or "model_type" in value):
            out.append(value)
    return out


def mutate(rng: random.Random, config: dict[str, Any]) -> dict[str, Any]:
    """One hostile variation of ``config`` (1 to 4 mutations)."""
    config = copy.deepcopy(config)
    for _ in range(rng.randint(1, 4)):
        target = rng.choice(_sections(config))
        keys = sorted(target)
        op = rng.random()
        key = (
            rng.choice(keys)
            if keys and op < 0.9
            else rng.choice(["hidden_size", "n_embd", "num_experts", "x"])
        )
        value = target.get(key)
        if op < 0.1:
            target.pop(key, None)
        elif op < 0.2:
            target[key] = None
        elif op < 0.35 and isinstance(value, int) and not isinstance(value, bool):
            target[key] = rng.choice(
                [value * 1000, -value, value + 1, value // 3, 0, 2**62, value * 1.5, [value]]
            )
        elif op < 0.45 and isinstance(value, list):
            target[key] = rng.choice(
                [
                    value[: len(value) // 2],
                    value * 2,
                    [HOSTILE[rng.randrange(len(HOSTILE))]] * len(value),
                    len(value),
                ]
            )
        elif op < 0.55:
            target["model_type"] = rng.choice(MODEL_TYPES)
        elif op < 0.62:
            sub = rng.choice(["text_config", "vision_config", "audio_config"])
            target[sub] = rng.choice(
                [None, {}, "x", [], {"model_type": rng.choice(MODEL_TYPES)}, copy.deepcopy(config)]
            )
        elif op < 0.67:
            target[key] = _nested(rng.randint(2, 40))
        else:
            target[key] = copy.deepcopy(rng.choice(HOSTILE))
    return config


def fuzzed(count: int, seed: int = 12) -> Iterator[dict[str, Any]]:
    """``count`` hostile configs, the same ones every run."""
    rng = random.Random(seed)
    pool = seeds()
    for _ in range(count):
        yield mutate(rng, rng.choice(pool))


def as_json_bytes(config: dict[str, Any]) -> bytes:
    """The bytes an upload of ``config`` would carry (non-finite floats as JSON's NaN/Infinity)."""
    return json.dumps(config).encode()
