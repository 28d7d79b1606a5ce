"""What the serving engines (vLLM, SGLang, TensorRT-LLM) share: start-up and launch from their flags.

Each server maps a plan's run settings to its own start-up flags (:meth:`ServerEngine.server_settings`),
reserves memory at start-up by its own rules (``startup.py`` of its package) and is started by one
shell command (``startup.launch_args``); only the wiring lives here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from planner.engines.base import Engine, Launch
from planner.engines.common import shell_command

if TYPE_CHECKING:
    from planner.fit.answer import FitAnswer
    from planner.formats.base import QuantFormat
    from planner.memory.estimate import MemoryEstimate, RunSettings
    from planner.memory.startup import ServerSettings, Startup
    from planner.model.spec import ModelSpec


class ServerEngine(Engine):
    """An engine that starts as a server and reserves its memory at start-up."""

    #: Where the launch command's flags are checked (the server's CLI source or reference).
    launch_source: str = ""

    def server_settings(self, settings: RunSettings, tensor_parallel: int = 1) -> ServerSettings:
        """The start-up flags ``settings`` give this server."""
        raise NotImplementedError

    def startup_rules(
        self,
        spec: ModelSpec,
        fmt: QuantFormat,
        device_bytes: int,
        server: ServerSettings,
        settings: RunSettings,
    ) -> Startup:
        """The package's ``startup()`` for these flags (with what else it reads from ``settings``)."""
        raise NotImplementedError

    def launch_args(
        self, model: str, server: ServerSettings, fmt_id: str
    ) -> tuple[list[str], dict[str, Any]]:
        """The package's ``launch_args()``: the command line and environment for these flags."""
        raise NotImplementedError

    def extra_argv(self, est: MemoryEstimate) -> list[str]:
        """Flags beyond the start-up ones (vLLM: LoRA slots, the draft model)."""
        return []

    def startup(
        self,
        spec: ModelSpec,
        fmt: QuantFormat,
        settings: RunSettings,
        device_bytes: int,
        tensor_parallel: int = 1,
    ) -> Startup:
        return self.startup_rules(
            spec, fmt, device_bytes, self.server_settings(settings, tensor_parallel), settings
        )

    def launch(self, est: MemoryEstimate, answer: FitAnswer | None = None) -> Launch:
        """The server command with the plan's flags (on as many GPUs as the fit uses)."""
        tensor_parallel = answer.fit.budget.count if answer is not None else 1
        argv, env = self.launch_args(
            est.model.name, self.server_settings(est.settings, tensor_parallel), est.format.id
        )
        argv = [*argv, *self.extra_argv(est)]
        return Launch(
            command=shell_command(argv), env=env, kind="shell", source=self.launch_source, argv=tuple(argv)
        )
