"""Query parameters to the CLI's inputs: the same flag names, read by the same parsers.

Each route accepts exactly its command's flags (``kv-dtype`` or ``kv_dtype``); an unknown or
repeated parameter, or one longer than :data:`MAX_VALUE` characters, is refused with its name, never
ignored. Plan fields go through :meth:`PlanRequest.from_params`; the commands' own flags
(``formats``, ``top``, ``family``...) through the parsers the CLI gives argparse. Two CLI flags have
no API form: ``live`` (the server's GPUs are not the caller's) and a local ``config.json`` as the
model (a query never reads the server's files).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from planner.errors import RequestError
from planner.request import PlanRequest, parse_text, parse_tokens, parse_whole, shown

#: Longest value of any parameter (a comma-separated list of formats or families included).
MAX_VALUE = 1000

#: The plan flags of each command (PlanRequest fields), as the CLI spells them.
RUN = ("engine", "context", "batch")
GPU = ("gpu", "vram", "gpus", "live")
ESTIMATE = (
    "model",
    "offline",
    "format",
    *RUN,
    "kv-dtype",
    "kv-dtype-k",
    "kv-dtype-v",
    "group-size",
    "double-quant",
    "flash-attn",
    "ubatch",
    "gpu-layers",
    "gpu-memory-utilization",
    "max-num-batched-tokens",
    *GPU,
)
FIT = (*GPU, *RUN)
#: The commands' own flags (not part of a plan).
FIT_EXTRA = ("formats",)
RECOMMEND_EXTRA = ("top", "family", "license", "min-context", "benchmark", "formats")
GPUS_EXTRA = ("query", "form", "live")


@dataclass(frozen=True)
class Query:
    """A route's parameters: the plan request and the command's own values (already parsed)."""

    request: PlanRequest
    extra: dict[str, Any]


def _normalized(params: Iterable[tuple[str, str]], allowed: Iterable[str]) -> dict[str, str]:
    allowed = tuple(allowed)
    seen: dict[str, str] = {}
    for key, value in params:
        name = key.strip().lower().replace("_", "-")
        if name not in allowed:
            raise RequestError(
                key, f"unknown parameter '{shown(key)}'; this route takes: {', '.join(allowed)}"
            )
        if name in seen:
            raise RequestError(name, f"{name} is given more than once")
        if len(value) > MAX_VALUE:
            raise RequestError(name, f"{name} is {len(value):,} characters long; at most {MAX_VALUE:,}")
        seen[name] = value
    return seen


def _refuse_server_only(values: Mapping[str, str]) -> None:
    live = values.get("live")
    if live is not None and live.strip().lower() not in ("off", "false", "no", "0", ""):
        raise RequestError(
            "live",
            "live is not available over HTTP: the server's GPUs are not yours; give gpu (a catalog GPU) "
            "or vram (a memory size)",
        )


def names(parameter: str, value: str) -> tuple[str, ...]:
    """A comma-separated list, as the CLI's ``--formats``/``--family``/``--license`` read it."""
    return tuple(part.strip() for part in parse_text(parameter, value).split(",") if part.strip())


def parse_query(
    params: Iterable[tuple[str, str]], plan_flags: Iterable[str], extra_flags: Iterable[str] = ()
) -> Query:
    """Split and parse a route's query into a :class:`PlanRequest` and the command's own values."""
    plan_flags, extra_flags = tuple(plan_flags), tuple(extra_flags)
    values = _normalized(params, dict.fromkeys((*plan_flags, *extra_flags)))
    _refuse_server_only(values)
    plan = {k: v for k, v in values.items() if k in plan_flags and k != "live"}
    request = PlanRequest.from_params(plan)
    extra: dict[str, Any] = {}
    for key, value in values.items():
        if key not in extra_flags or key == "live":
            continue
        if key in ("formats", "family", "license"):
            extra[key] = names(key, value)
        elif key == "top":
            extra[key] = parse_whole("top", value, 1, 1 << 16)
        elif key == "min-context":
            extra[key] = parse_tokens("min-context", value)
        else:  # benchmark, query, form: checked by the route against its choices
            extra[key] = parse_text(key, value)
    return Query(request, extra)


def choice(parameter: str, value: str, choices: Iterable[str]) -> str:
    """``value`` if it is one of ``choices`` (case-insensitive), else a :class:`RequestError` listing them."""
    options = {c.lower(): c for c in choices}
    found = options.get(value.strip().lower())
    if found is None:
        raise RequestError(
            parameter, f"{parameter} must be one of {', '.join(options.values())}, not '{shown(value)}'"
        )
    return found
