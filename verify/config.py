"""One verifier run: which model, format and settings, on which device.

The same :class:`RunConfig` comes from the command line, from a suite file entry and
from a record's ``config``; :meth:`RunConfig.to_argv` is how the suite hands it to the
subprocess that runs it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from planner.memory.estimate import MAX_BATCH, MAX_CONTEXT

DEVICES = ("cuda", "cpu")
WEIGHTS = ("random", "checkpoint")
ENGINES = ("transformers",)
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class ConfigError(ValueError):
    """A run setting is missing, unknown or out of range; the message says which."""


@dataclass(frozen=True, slots=True)
class RunConfig:
    """What to build and measure.

    ``context`` is tokens per sequence, prompt plus ``decode`` generated tokens (the
    planner's meaning); the KV check prefills all ``context`` tokens. ``weights``:
    ``random`` builds from the config, ``checkpoint`` loads the model's own weights
    (a local folder, or a Hub id when the Hub is reachable). ``tiny`` shrinks the
    config to a few narrow layers of the same architecture (CPU checks, dry runs).
    """

    model: str
    format: str
    engine: str = "transformers"
    context: int = 4096
    batch: int = 1
    decode: int = 16
    kv_dtype: str = "auto"
    device: str = "cuda"
    weights: str = "random"
    seed: int = 0
    tiny: bool = False
    id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise ConfigError("model must be a non-empty string")
        if not isinstance(self.format, str) or not self.format.strip():
            raise ConfigError("format must be a non-empty string")
        if self.engine not in ENGINES:
            raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, not '{self.engine:.40}'")
        for name, low, high in (
            ("context", 1, MAX_CONTEXT),
            ("batch", 1, MAX_BATCH),
            ("decode", 0, MAX_CONTEXT - 1),
            ("seed", 0, 2**63 - 1),
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ConfigError(f"{name} must be an integer between {low} and {high:,}, not {value!r}")
        if self.decode >= self.context:
            raise ConfigError(f"decode ({self.decode}) must be smaller than context ({self.context})")
        if self.device not in DEVICES:
            raise ConfigError(f"device must be one of {', '.join(DEVICES)}, not '{self.device:.40}'")
        if self.weights not in WEIGHTS:
            raise ConfigError(f"weights must be one of {', '.join(WEIGHTS)}, not '{self.weights:.40}'")
        if self.tiny and self.weights != "random":
            raise ConfigError("a tiny model has no checkpoint: tiny needs weights=random")
        if self.id is not None and not _ID.match(self.id):
            raise ConfigError(
                f"id must be letters, digits, '.', '_' or '-' (at most 100), not '{self.id:.40}'"
            )

    @property
    def prompt_tokens(self) -> int:
        """Tokens of the prompt that ``generate`` starts from: ``context - decode``."""
        return self.context - self.decode

    @property
    def label(self) -> str:
        """``id`` or a readable name made from the settings."""
        if self.id:
            return self.id
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", self.model.rsplit("/", 1)[-1]).strip("-") or "model"
        return f"{name}_{self.format}_c{self.context}_b{self.batch}"[:100]

    def to_dict(self) -> dict[str, Any]:
        """Every setting, JSON-ready."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **overrides: Any) -> RunConfig:
        """A config from a mapping (suite entry, record); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        merged = {**dict(data), **{k: v for k, v in overrides.items() if v is not None}}
        unknown = sorted(set(merged) - known)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        for key in ("model", "format"):
            if key not in merged:
                raise ConfigError(f"'{key}' is required")
        try:
            return cls(**merged)
        except TypeError as exc:  # pragma: no cover - the checks above catch the usual causes
            raise ConfigError(str(exc)) from None

    def to_argv(self) -> list[str]:
        """Command-line arguments of ``python -m verify run`` for this config."""
        argv = [
            "--model",
            self.model,
            "--format",
            self.format,
            "--engine",
            self.engine,
            "--context",
            str(self.context),
            "--batch",
            str(self.batch),
            "--decode",
            str(self.decode),
            "--kv-dtype",
            self.kv_dtype,
            "--device",
            self.device,
            "--weights",
            self.weights,
            "--seed",
            str(self.seed),
        ]
        if self.tiny:
            argv.append("--tiny")
        if self.id:
            argv += ["--id", self.id]
        return argv


__all__ = ["DEVICES", "ENGINES", "WEIGHTS", "ConfigError", "RunConfig"]
