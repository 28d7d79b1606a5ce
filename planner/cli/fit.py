"""``python -m planner fit``: every catalog model x format that fits a GPU, the best format per model marked."""

from __future__ import annotations

import argparse
import json
from typing import Any

from planner.cli.args import add_gpu_arguments, add_run_arguments, names, request_from_args
from planner.cli.params import human_count
from planner.errors import PlannerError, RequestError
from planner.request import resolve_budget, resolve_settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``fit`` to an ``add_subparsers()`` object."""
    parser = sub.add_parser("fit", help="every catalog model x format that fits a GPU, best format marked")
    add_gpu_arguments(parser)
    add_run_arguments(parser, "transformers, vllm or llama.cpp (default: each format's own)")
    parser.add_argument(
        "--formats", type=names, help="comma-separated format ids (default: a spread of bit widths)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON (integer bytes)")
    parser.set_defaults(func=run)
    return parser


def format_list(ids: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """``--formats`` parsed into canonical ids (``None`` when not given)."""
    from planner.formats import parse_format

    if ids is None:
        return None
    if not ids:
        raise PlannerError("--formats needs at least one format id")
    return tuple(parse_format(i).id for i in ids)


def run(args: argparse.Namespace) -> int:
    """Print the fitting pairs."""
    from planner.fit.catalog_fit import catalog_fit
    from planner.hardware.units import GIB

    request = request_from_args(args)
    budget = resolve_budget(request)
    if budget is None:
        raise RequestError("gpu", "fit needs a GPU: --gpu NAME, --vram SIZE or --live")
    table = catalog_fit(budget, resolve_settings(request), request.engine_id, format_list(args.formats))
    if args.json:
        print(json.dumps(table.to_dict(), indent=2))
        return 0
    settings = table.settings
    print(f"Fits on {budget.label}, context {settings.context:,} x batch {settings.batch}")
    engine = table.engine or "each format's own"
    print(f"formats tried: {', '.join(table.formats)}; engine: {engine}")
    if table.rows:
        width = max(len(spec.name) for spec, _ in table.rows)
        print(
            f"\n  {'model':<{width}}  {'params':>8}  {'format':<10} {'engine':<12} {'bits':>5}  "
            f"{'needs GiB':>9}  {'usable GiB':>10}  {'headroom GiB':>12}"
        )
        for spec, option in table.rows:
            fit = option.fit
            mark = "*" if option.pick else " "
            print(
                f"{mark} {spec.name:<{width}}  {human_count(spec.total_parameters):>8}  {option.format_id:<10} "
                f"{fit.estimate.engine:<12} {fit.estimate.weights_report.bits_per_weight:>5.2f}  "
                f"{fit.required_bytes / GIB:>9.2f}  {fit.usable_bytes / GIB:>10.2f}  {fit.headroom_bytes / GIB:>12.2f}"
            )
        print("\n* the pick: the most bits per weight that fits")
    if table.no_fit:
        print(f"\nnothing fits for {len(table.no_fit)} model(s): {', '.join(table.no_fit)}")
    for rule in dict.fromkeys(o.fit.allowance.rule for _, o in table.rows):
        print(f"margin: {rule}")
    for note in budget.notes:
        print(f"note: {note}")
    print(
        f"({table.models} models x {len(table.formats)} formats in {table.elapsed_s:.2f} s; "
        "formats an engine refuses are left out)"
    )
    return 0
