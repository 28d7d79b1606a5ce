"""Query parameters to the CLI's arguments: each route takes exactly its command's flags.

The flags are read off the CLI's own argparse parser (:func:`planner.cli.build_parser`), so a flag
added to a command is a query parameter of its route at once, parsed by the same ``type=`` functions
with the same messages and defaults. A query becomes an argv (``kv_dtype=fp8`` ->
``--kv-dtype=fp8``; a switch such as ``enforce-eager=on`` -> ``--enforce-eager``; a repeatable flag
such as ``add-model`` may be given more than once) and the command's parser reads it into the
namespace its ``json_answer`` takes. An unknown or repeated parameter, or one longer than
:data:`MAX_VALUE` characters, is refused with its name, never ignored. ``live`` is refused (the
server's GPUs are not the caller's), and ``json`` is implied.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from planner.cli import Parser, UsageError, build_parser
from planner.errors import RequestError
from planner.request import parse_switch, shown

#: Longest value of any parameter (a comma-separated list of formats or families included).
MAX_VALUE = 1000
#: Commands with a route, in the order the docs list them.
ROUTES = ("estimate", "fit", "recommend", "gpus", "params")
#: Flags with no HTTP form: ``json`` is always on, ``live`` reads the server's own GPUs.
_IMPLIED = ("help", "json")
_ARGUMENT = re.compile(r"argument (?P<flag>[\w-]+)(?:/[\w-]+)*: (?P<message>.*)", re.DOTALL)


class _QuietParser(Parser):
    """The CLI's parser that raises instead of printing (a server has no terminal to print to)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


@dataclass(frozen=True)
class Flag:
    """One CLI flag as a query parameter."""

    name: str  # the long flag without dashes (``kv-dtype``), or a positional's name (``query``)
    aliases: tuple[str, ...]  # other spellings (``tp`` for ``--tensor-parallel``/``-tp``)
    option: str | None  # ``--kv-dtype``; None for a positional argument
    switch: bool  # on/off (argparse ``store_true``)
    repeat: bool  # may be given more than once (argparse ``append``)
    required: bool
    help: str


@cache
def parser() -> argparse.ArgumentParser:
    """The CLI's parser, raising :class:`UsageError` instead of printing (built once)."""
    return build_parser(_QuietParser)


def _subparser(command: str) -> argparse.ArgumentParser:
    sub = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command]


@cache
def flags(command: str) -> tuple[Flag, ...]:
    """The command's flags, as its route's query parameters (``json`` and ``help`` left out)."""
    out = []
    for action in _subparser(command)._actions:
        if action.dest in _IMPLIED:
            continue
        spellings = [s.lstrip("-") for s in action.option_strings] or [action.dest]
        longest = max(spellings, key=len)
        out.append(
            Flag(
                name=longest,
                aliases=tuple(s for s in spellings if s != longest),
                option=max(action.option_strings, key=len) if action.option_strings else None,
                switch=action.nargs == 0,  # store_true, store_const (--mmproj, --no-mmproj)
                repeat=isinstance(action, argparse._AppendAction),
                required=bool(action.required),
                help=action.help or "",
            )
        )
    return tuple(out)


def _lookup(command: str) -> dict[str, Flag]:
    return {spelling: f for f in flags(command) for spelling in (f.name, *f.aliases)}


def to_argv(command: str, params: Iterable[tuple[str, str]]) -> list[str]:
    """The CLI arguments a route's query stands for (refusing unknown, repeated and overlong parameters)."""
    known = _lookup(command)
    seen: set[str] = set()
    argv: list[str] = []
    positional: list[str] = []
    for key, value in params:
        flag = known.get(key.strip().lower().replace("_", "-"))
        if flag is None:
            listed = ", ".join(f.name for f in flags(command))
            raise RequestError(key, f"unknown parameter '{shown(key)}'; this route takes: {listed}")
        if flag.name in seen and not flag.repeat:
            raise RequestError(flag.name, f"{flag.name} is given more than once")
        seen.add(flag.name)
        if len(value) > MAX_VALUE:
            raise RequestError(
                flag.name, f"{flag.name} is {len(value):,} characters long; at most {MAX_VALUE:,}"
            )
        if flag.switch:
            if parse_switch(flag.name, value):
                if flag.name == "live":
                    raise RequestError(
                        "live",
                        "live is not available over HTTP: the server's GPUs are not yours; give gpu "
                        "(a catalog GPU) or vram (a memory size)",
                    )
                argv.append(flag.option or "")
        elif flag.option is None:
            positional.append(value)
        else:
            argv.append(f"{flag.option}={value}")  # '=' keeps a value such as '-1' a value
    return [command, *argv, *(["--", *positional] if positional else [])]


def parse_query(command: str, params: Iterable[tuple[str, str]]) -> argparse.Namespace:
    """The namespace the CLI's parser reads from the route's query; a :class:`RequestError` names what is wrong."""
    argv = to_argv(command, params)
    try:
        return parser().parse_args(argv)
    except UsageError as exc:
        raise _request_error(command, str(exc)) from None


def _request_error(command: str, message: str) -> RequestError:
    """argparse's message with query names: ``argument --context: ...`` -> parameter ``context``."""
    match = _ARGUMENT.fullmatch(message)
    if match:
        return RequestError(match["flag"].lstrip("-"), match["message"])
    if message.startswith("the following arguments are required: "):
        missing = [m.strip().lstrip("-") for m in message.split(": ", 1)[1].split(",")]
        return RequestError(
            missing[0], f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required"
        )
    return RequestError(command, message)
