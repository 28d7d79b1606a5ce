"""Reading a Hugging Face ``config.json`` safely.

The input may come from a stranger's upload, so it is treated as hostile: size and
nesting limits, strict types, sane ranges. Nothing in it is ever executed
(``auto_map`` is reported, never followed: the planner never uses
``trust_remote_code``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from planner.errors import ConfigError, InvalidFieldError, MissingFieldError

#: Largest accepted config file. Real ones are a few KiB; 2 MiB leaves room for big label maps.
MAX_CONFIG_BYTES = 2 * 1024 * 1024
#: Deepest accepted JSON nesting. Real configs nest 3-4 levels (``text_config.rope_scaling``).
MAX_DEPTH = 16

#: Upper bounds for shape fields: far above any published model, far below what would
#: make the planner's integer arithmetic meaningless. (DeepSeek-V3: 61 layers, 7168 hidden,
#: 256 experts; the largest vocabularies are about 262k.)
LIMITS: dict[str, int] = {
    "layers": 4096,
    "width": 1 << 20,
    "heads": 1 << 16,
    "vocab": 1 << 24,
    "experts": 1 << 16,
    "positions": 1 << 31,
}

# NOTE: GPT-2-era configs (GPT-2, GPTBigCode, some Falcon forks) use short names; map
# each canonical name to the aliases transformers' config classes accept (attribute_map).
ALIASES: dict[str, tuple[str, ...]] = {
    "num_hidden_layers": ("n_layer", "num_layers", "n_layers"),
    "hidden_size": ("n_embd", "d_model", "n_embed"),
    "num_attention_heads": ("n_head", "num_heads", "n_heads"),
    "intermediate_size": ("n_inner", "ffn_hidden_size"),
    "max_position_embeddings": ("n_positions", "n_ctx", "max_seq_len", "seq_length"),
    "num_key_value_heads": ("num_kv_heads", "n_head_kv", "multi_query_group_num"),
    "rms_norm_eps": ("layer_norm_epsilon", "layer_norm_eps"),
}


def parse_config_bytes(data: bytes) -> dict[str, Any]:
    """Decode an uploaded ``config.json`` into a dict, or raise :class:`ConfigError`."""
    if not isinstance(data, (bytes, bytearray)):
        raise ConfigError("config.json must be given as bytes")
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config.json is {len(data):,} bytes; the limit is {MAX_CONFIG_BYTES:,} bytes")
    try:
        text = bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config.json is not UTF-8 text (byte {exc.start})") from None
    return parse_config_text(text)


def parse_config_text(text: str) -> dict[str, Any]:
    """Parse JSON text into a config dict with the same checks as :func:`parse_config_bytes`."""
    if _bracket_depth(text) > MAX_DEPTH:
        raise ConfigError(f"config.json nests deeper than {MAX_DEPTH} levels")
    # NOTE: Python's json accepts NaN/Infinity, and real configs use them (Mamba-Codestral:
    # "time_step_limit": [0.0, Infinity]); the typed getters reject them where a field is read.
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"config.json is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config.json must hold a JSON object, not {type(raw).__name__}")
    return raw


def _bracket_depth(text: str) -> int:
    """Deepest ``{``/``[`` nesting outside strings, found without building the tree."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


class ConfigView:
    """Typed, validated access to one config mapping.

    Each getter names the field in its error, accepts the legacy aliases in
    :data:`ALIASES`, rejects booleans where numbers are meant, and enforces bounds.
    """

    def __init__(self, raw: Mapping[str, Any], architecture: str, prefix: str = "") -> None:
        self.raw = raw
        self.architecture = architecture
        self.prefix = prefix

    def _name(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def _lookup(self, key: str) -> tuple[str, Any] | None:
        for name in (key, *ALIASES.get(key, ())):
            if name in self.raw and self.raw[name] is not None:
                return name, self.raw[name]
        return None

    def has(self, key: str) -> bool:
        """True when the field (or an alias) is present and not null."""
        return self._lookup(key) is not None

    def int(
        self,
        key: str,
        default: int | None = None,
        *,
        minimum: int = 1,
        maximum: int = LIMITS["width"],
    ) -> int:
        """An integer field; missing without default raises :class:`MissingFieldError`."""
        found = self._lookup(key)
        if found is None:
            if default is None:
                raise MissingFieldError(self._name(key), self.architecture)
            return default
        name, value = found
        return _as_int(self._name(name), value, minimum, maximum)

    def opt_int(self, key: str, *, minimum: int = 1, maximum: int = LIMITS["positions"]) -> int | None:
        """An optional integer field; absent or null gives ``None``."""
        found = self._lookup(key)
        if found is None:
            return None
        name, value = found
        return _as_int(self._name(name), value, minimum, maximum)

    def bool(self, key: str, default: bool) -> bool:
        """A boolean field."""
        found = self._lookup(key)
        if found is None:
            return default
        name, value = found
        if not isinstance(value, bool):
            raise InvalidFieldError(self._name(name), f"must be true or false, not {value!r:.40}")
        return value

    def str(self, key: str, default: str | None = None) -> str | None:
        """A string field."""
        found = self._lookup(key)
        if found is None:
            return default
        name, value = found
        if not isinstance(value, str):
            raise InvalidFieldError(self._name(name), f"must be a string, not {value!r:.40}")
        return value

    def float(self, key: str, default: float | None = None) -> float | None:
        """A finite number field."""
        found = self._lookup(key)
        if found is None:
            return default
        name, value = found
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidFieldError(self._name(name), f"must be a number, not {value!r:.40}")
        if not math.isfinite(value):
            raise InvalidFieldError(self._name(name), "must be finite")
        return float(value)

    def list(self, key: str, length: int | None = None) -> list[Any] | None:
        """A list field, optionally of an exact length."""
        found = self._lookup(key)
        if found is None:
            return None
        name, value = found
        if not isinstance(value, list):
            raise InvalidFieldError(self._name(name), f"must be a list, not {type(value).__name__}")
        if length is not None and len(value) != length:
            raise InvalidFieldError(
                self._name(name), f"has {len(value)} entries; expected {length} (one per layer)"
            )
        return value

    def int_list(
        self, key: str, length: int | None = None, *, minimum: int = 0, maximum: int = LIMITS["positions"]
    ) -> list[int] | None:
        """A list of integers."""
        values = self.list(key, length)
        if values is None:
            return None
        return [_as_int(f"{self._name(key)}[{i}]", v, minimum, maximum) for i, v in enumerate(values)]

    def str_list(self, key: str, length: int | None = None) -> list[str] | None:
        """A list of strings."""
        values = self.list(key, length)
        if values is None:
            return None
        for i, v in enumerate(values):
            if not isinstance(v, str):
                raise InvalidFieldError(f"{self._name(key)}[{i}]", f"must be a string, not {v!r:.40}")
        return values

    def sub(self, key: str) -> ConfigView | None:
        """A nested object as its own view (``None`` when absent)."""
        found = self._lookup(key)
        if found is None:
            return None
        name, value = found
        if not isinstance(value, dict):
            raise InvalidFieldError(self._name(name), f"must be an object, not {type(value).__name__}")
        arch = value.get("model_type") if isinstance(value.get("model_type"), str) else self.architecture
        return ConfigView(value, arch, prefix=f"{self._name(name)}.")


def _as_int(name: str, value: Any, minimum: int, maximum: int) -> int:
    if isinstance(value, bool):
        raise InvalidFieldError(name, f"must be an integer, not {value}")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise InvalidFieldError(name, f"must be an integer, not {value!r}")
        # NOTE: out-of-range floats are named as written: int(1e308) would print 309 digits
        if value < minimum:
            raise InvalidFieldError(name, f"is {value:.3g}; it must be at least {minimum}")
        if value > maximum:
            raise InvalidFieldError(name, f"is {value:.3g}; the planner accepts at most {maximum:,}")
        value = int(value)
    if not isinstance(value, int):
        raise InvalidFieldError(name, f"must be an integer, not {value!r:.40}")
    if value < minimum:
        raise InvalidFieldError(name, f"is {value}; it must be at least {minimum}")
    if value > maximum:
        raise InvalidFieldError(name, f"is {value:,}; the planner accepts at most {maximum:,}")
    return value
