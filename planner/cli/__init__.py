"""``python -m planner``: the planner from a terminal.

One module per command (``params``, ``estimate``, ``fit``, ``recommend``, ``gpus``); each builds a
:class:`planner.request.PlanRequest` from its flags and prints a readable table, or with ``--json``
the same data the HTTP API returns. Errors the user can fix print one line to stderr and exit with
status 2 (argparse's own usage errors too).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from planner.cli import estimate, fit, gpus, params, recommend
from planner.errors import PlannerError, RequestError

COMMANDS = (params, estimate, fit, recommend, gpus)


class UsageError(Exception):
    """argparse refused the command line (its message is already printed)."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``error: argument --context: ...``) and no exit from inside."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(
            f"error: {message} (python -m planner {self._subcommand()}--help lists the flags)",
            file=sys.stderr,
        )
        raise UsageError(message)

    def _subcommand(self) -> str:
        parts = self.prog.split()
        return f"{parts[-1]} " if len(parts) > 3 else ""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    parser = Parser(prog="python -m planner", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except UsageError:
        return 2
    try:
        return args.func(args)
    except RequestError as exc:
        print(f"error: --{exc.parameter.replace('_', '-')}: {exc}", file=sys.stderr)
        return 2
    except PlannerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # NOTE: the reader went away (``python -m planner recommend | head``): stop quietly, and point
        # stdout at devnull so the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


__all__ = ["build_parser", "main"]
