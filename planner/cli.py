"""``python -m planner``: the planner from a terminal.

Commands print a readable table, or with ``--json`` the same data other tools parse.
Errors the user can fix print one line to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from planner.errors import PlannerError
from planner.report import compact_layers, params_report
from planner.resolve import load_model


def _human(n: int) -> str:
    for unit, size in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


def cmd_params(args: argparse.Namespace) -> int:
    """Count a model's parameters, tensor by tensor."""
    spec = load_model(args.model, allow_hub=not args.offline)
    report = params_report(spec)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    p = report["parameters"]
    print(f"{spec.name}  ({spec.architecture}{', approximate' if spec.approximate else ''})")
    print(f"parameters: {p['total']:,} total ({_human(p['total'])}), {p['active']:,} active per token")
    width = max(len(t["name"]) for t in report["tensors"])
    print(f"\n{'tensor':<{width}}  {'role':<20} {'shape':<22} {'count':>7} {'parameters':>16}")
    for t in report["tensors"]:
        shape = "x".join(map(str, t["shape"]))
        print(f"{t['name']:<{width}}  {t['role']:<20} {shape:<22} {t['count']:>7} {t['parameters']:>16,}")
    print("\nlayers:")
    for span, label in compact_layers(spec):
        print(f"  {span:<9} {label}")
    for note in spec.notes:
        print(f"note: {note}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(prog="python -m planner", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    params = sub.add_parser("params", help="count parameters and list tensors")
    params.add_argument(
        "--model",
        required=True,
        help="catalog id (e.g. meta-llama/Llama-3.1-8B), config.json path, or Hub id",
    )
    params.add_argument("--json", action="store_true", help="print JSON")
    params.add_argument("--offline", action="store_true", help="never contact the Hugging Face Hub")
    params.set_defaults(func=cmd_params)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except PlannerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
