"""What an inference engine is to the planner: where tensors live and how it sizes caches and buffers."""

from __future__ import annotations

import shlex
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from planner.formats.base import QuantFormat
from planner.memory.estimate import MemoryEstimate, RunSettings
from planner.model.spec import ModelSpec

if TYPE_CHECKING:
    from planner.memory.startup import Startup


@dataclass(frozen=True, slots=True)
class Launch:
    """The command that starts an engine with a plan's settings, and the environment it needs."""

    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)

    @property
    def command(self) -> str:
        """The command line, shell-quoted."""
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(self.env.items()))
        return (prefix + " " if prefix else "") + shlex.join(self.argv)

    def to_dict(self) -> dict[str, Any]:
        """``{"command", "env"}`` (the ``launch`` object of ``estimate --json``)."""
        return {"command": shlex.join(self.argv), "env": dict(self.env)}


class Engine(ABC):
    """One engine's memory model.

    ``id`` is what users type (``transformers``, ``vllm``, ``llama.cpp``); ``kv_dtypes``
    the cache types it accepts; ``source`` cites the engine code the rules follow.
    """

    id: str
    description: str
    source: str
    kv_dtypes: tuple[str, ...]

    def loads(self, fmt: QuantFormat) -> bool:
        """Whether this engine can load weights in ``fmt``."""
        return self.id in fmt.engines

    @abstractmethod
    def estimate(self, spec: ModelSpec, fmt: QuantFormat, settings: RunSettings) -> MemoryEstimate:
        """Bytes per component for ``spec`` stored in ``fmt`` and run with ``settings``."""

    def startup(
        self,
        spec: ModelSpec,
        fmt: QuantFormat,
        settings: RunSettings,
        device_bytes: int,
        tensor_parallel: int = 1,
    ) -> Startup | None:
        """What a serving engine reserves at start-up on one GPU of ``device_bytes`` (``None``: not a server)."""
        return None

    def launch(
        self, model: str, fmt: QuantFormat, settings: RunSettings, tensor_parallel: int = 1
    ) -> Launch | None:
        """The command that runs ``model`` with these settings (``None`` when the engine has no CLI here)."""
        return None
