"""``python -m planner params``: a model's parameters, tensor by tensor, and its layers."""

from __future__ import annotations

import argparse
import json
from typing import Any

from planner.cli.args import add_model_arguments, request_from_args
from planner.request import resolve_model


def human_count(n: int) -> str:
    """A parameter count in short form: ``8.03B``, ``494.03M``."""
    for unit, size in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``params`` to an ``add_subparsers()`` object."""
    parser = sub.add_parser("params", help="count parameters and list tensors")
    add_model_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Count a model's parameters, tensor by tensor."""
    from planner.report import approximate_warning, compact_layers, params_report

    spec = resolve_model(request_from_args(args))
    report = params_report(spec)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    p = report["parameters"]
    warning = approximate_warning(spec)
    if warning:
        print(f"warning: {warning}")
    print(f"{spec.name}  ({spec.architecture}{', approximate' if spec.approximate else ''})")
    detail = f" ({spec.inventory_detail})" if spec.inventory_detail else ""
    print(f"tensors from {spec.inventory_source.value}{detail}")
    print(f"parameters: {p['total']:,} total ({human_count(p['total'])}), {p['active']:,} active per token")
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
