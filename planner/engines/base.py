"""What an inference engine is to the planner: where tensors live, how it sizes caches and buffers,
and the command that runs a plan."""

from __future__ import annotations

import shlex
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import field
from typing import TYPE_CHECKING, Any, Literal

from planner.formats.base import QuantFormat
from planner.frozen import record
from planner.memory.estimate import Component, MemoryEstimate, RunSettings, SettingsError
from planner.model.spec import ModelSpec

if TYPE_CHECKING:
    from planner.fit.answer import FitAnswer
    from planner.memory.startup import Startup


@record
class Launch:
    """The command that enforces a plan: the line(s) to run and the environment they need.

    ``kind`` is ``"shell"`` (a command line; ``env`` set before it) or ``"python"`` (a snippet).
    ``source`` names the argument parser (file and version) every flag was checked against;
    ``notes`` say what the user must supply or what the command cannot pin down.
    """

    command: str
    env: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    kind: Literal["shell", "python"] = "shell"
    source: str = ""
    argv: tuple[str, ...] = ()  # the single command's words, when the launch is one command

    @classmethod
    def from_argv(
        cls, argv: tuple[str, ...] | list[str], env: Mapping[str, str] | None = None, **kw: Any
    ) -> Launch:
        """A one-command launch from its words (shell-quoted for ``command``)."""

        return cls(command=shlex.join(argv), env=dict(env or {}), argv=tuple(argv), **kw)

    @property
    def script(self) -> str:
        """The whole thing to paste: ``export`` lines for ``env`` (shell) then the command."""
        if self.kind != "shell" or not self.env:
            return self.command
        exports = "\n".join(f"export {k}={_quote(v)}" for k, v in self.env.items())
        return f"{exports}\n{self.command}"

    def to_dict(self) -> dict[str, Any]:
        """The ``launch`` object of ``estimate --json``."""
        return {
            "command": self.command,
            "env": dict(self.env),
            "kind": self.kind,
            "script": self.script,
            "notes": list(self.notes),
            "source": self.source,
        }


def _quote(value: str) -> str:

    return shlex.quote(value)


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

    def format_hint(self, fmt: QuantFormat) -> str | None:
        """The format this engine loads for what ``fmt`` names, when it loads it under another id.

        ``None`` when there is none; e.g. llama.cpp loads gpt-oss's MXFP4 as the GGUF type ``mxfp4_moe``.
        """
        return None

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

    def launch(self, est: MemoryEstimate, answer: FitAnswer | None = None) -> Launch | None:
        """The command that runs ``est`` (``answer`` adds what the fit chose: offload, GPU count).

        ``None`` for an engine without a modelled launch command.
        """
        return None

    # -- parts beyond the language model (each engine states its own rule; default: not modelled) ---

    def draft_component(self, spec: ModelSpec, fmt: QuantFormat, settings: RunSettings) -> Component:
        """The speculative-decoding draft model's memory under ``settings.draft``."""
        raise SettingsError(f"a draft model (speculative decoding) is not modelled for {self.id}")

    def lora_component(self, spec: ModelSpec, fmt: QuantFormat, settings: RunSettings) -> Component:
        """The memory of ``settings.max_loras`` LoRA adapters of rank ``settings.lora_rank``."""
        raise SettingsError(f"LoRA adapters are modelled for vllm, llama.cpp and ollama, not {self.id}")

    def with_extras(
        self, spec: ModelSpec, fmt: QuantFormat, settings: RunSettings, est: MemoryEstimate
    ) -> MemoryEstimate:
        """``est`` with its draft model and LoRA adapters added as their own components."""
        if settings.draft is None and not settings.wants_lora:
            return est
        from dataclasses import replace

        extras = list(est.extras)
        if settings.draft is not None and est.extra("draft") is None:
            extras.append(self.draft_component(spec, fmt, settings))
        if settings.wants_lora and est.extra("lora") is None:
            extras.append(self.lora_component(spec, fmt, settings))
        if len(extras) == len(est.extras):
            return est
        return replace(est, extras=tuple(extras))
