"""``python -m verify``: measure real models and compare them with the planner.

Commands:

* ``run``: one configuration in this process (``--device cpu`` for the exact CPU check,
  ``--dry-run`` for everything but CUDA);
* ``suite``: a suite file, each configuration in its own subprocess;
* ``env``: the environment a record would carry (exit 3 when ``--device cuda`` has no GPU);
* ``wheels``: download the GPU machine's extra packages as wheels;
* ``collect``: file a suite's records under ``data/measurements/``.

Errors the user can fix print one line to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from planner.errors import PlannerError
from verify.config import DEVICES, ENGINES, WEIGHTS, ConfigError, RunConfig

_ROWS = (
    ("weights", "weights"),
    ("kv_cache", "KV cache"),
    ("kv_cache_storage", "KV storage"),
    ("peak_allocated", "peak allocated"),
    ("cuda_context", "CUDA context"),
    ("overhead", "overhead"),
    ("process_total", "process total"),
)


def _quiet_libraries() -> None:
    """Library chatter that says nothing about memory.

    # NOTE: bitsandbytes logs "MatMul8bitLt: inputs will be cast ... to float16" on every int8
    # matmul call (thousands of lines per generate); transformers' advisory warnings likewise.
    """
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover - transformers is a verifier dependency
        pass


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}"


def print_record(record: dict[str, Any]) -> None:
    """A readable table of one record: measured, predicted and error per component."""
    c = record["config"]
    print(f"{c['model']}  {c['format']}  context {c['context']:,}  batch {c['batch']}  on {c['device']}")
    print(f"status: {record['status']}" + (f"  ({record['reason']})" if record.get("reason") else ""))
    measured, predicted, error = (
        record.get("measured", {}),
        record.get("predicted", {}),
        record.get("error", {}),
    )
    print(f"\n{'component':<16} {'measured':>16} {'predicted':>16} {'error':>14} {'rel':>9}")
    for key, label in _ROWS:
        p_key = "total" if key == "process_total" else key
        err = error.get(key) or {}
        rel = f"{err['rel']:+.2%}" if err.get("rel") is not None else "-"
        print(
            f"{label:<16} {_fmt(measured.get(key)):>16} {_fmt(predicted.get(p_key)):>16} "
            f"{_fmt(err.get('abs')):>14} {rel:>9}"
        )
    if measured.get("decode_tokens_per_s") is not None:
        print(f"\ndecode: {measured['decode_tokens_per_s']:,.1f} tokens/s (batch {c['batch']})")
    for note in record.get("notes", []):
        print(f"note: {note}")
    if "dry_run" in record:
        meta, tiny = record["dry_run"]["meta"], record["dry_run"]["tiny"]
        print(
            f"\ndry run: meta build {meta['status']}"
            + (f" ({meta.get('reason')})" if meta.get("reason") else "")
        )
        print(
            f"dry run: tiny CPU run {tiny['status']}"
            + (f" ({tiny.get('reason')})" if tiny.get("reason") else "")
        )
        for key, err in (tiny.get("error") or {}).items():
            print(
                f"  tiny {key}: measured {err['measured']:,} predicted {err['predicted']:,} ({err['abs']:+,})"
            )


def _write(record: dict[str, Any], out: str | None) -> None:
    if out:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


def cmd_run(args: argparse.Namespace) -> int:
    """Build, measure and compare one configuration."""
    from verify.run import dry_run, run

    config = RunConfig(
        model=args.model,
        format=args.format,
        engine=args.engine,
        context=args.context,
        batch=args.batch,
        decode=args.decode,
        kv_dtype=args.kv_dtype,
        device=args.device,
        weights=args.weights,
        seed=args.seed,
        tiny=args.tiny,
        id=args.id,
    )
    record = (dry_run(config) if args.dry_run else run(config)).to_dict()
    _write(record, args.out)
    if args.json:
        print(json.dumps(record, indent=1))
    elif not args.quiet:
        print_record(record)
    return 1 if record["status"] == "error" else 0


def _stop(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def cmd_suite(args: argparse.Namespace) -> int:
    """Run a suite file, one subprocess per configuration."""
    from verify.suite import load_suite, run_suite, select

    suite = select(load_suite(args.suite), args.only)
    # NOTE: SIGTERM (the Verify page stopping, a job scheduler) unwinds through run_one, which kills
    # the configuration in flight instead of leaving it on the GPU.
    signal.signal(signal.SIGTERM, _stop)
    records = run_suite(
        suite,
        args.out,
        dry_run=args.dry_run,
        device=args.device,
        timeout_s=args.timeout,
        budget_s=args.budget,
        progress=not args.no_progress,
    )
    statuses: dict[str, int] = {}
    for r in records:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    print(", ".join(f"{n} {s}" for s, n in sorted(statuses.items())) + f"; records in {args.out}")
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    """Print the environment a record carries."""
    from verify.environment import environment
    from verify.probe import probe_for

    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print("error: CUDA is not available (no GPU, driver or CUDA build of torch)", file=sys.stderr)
            return 3
    probe = probe_for(args.device)
    if args.device == "cuda":
        probe.start()
    print(json.dumps(environment(probe), indent=1))
    return 0


def cmd_wheels(args: argparse.Namespace) -> int:
    """Download the GPU machine's extra packages (requirements-verify.txt) as wheels."""
    from verify.wheels import fetch

    for cmd in fetch(args.dir, args.python_version, dry_run=args.dry_run):
        if args.dry_run:
            print(" ".join(cmd))
    if not args.dry_run:
        print(f"wheels in {args.dir}: {', '.join(sorted(p.name for p in Path(args.dir).glob('*.whl')))}")
    return 0


def cmd_collect(args: argparse.Namespace) -> int:
    """Copy a suite's records into data/measurements/<date>_<gpu>/."""
    from verify.collect import MEASUREMENTS, collect

    folder = collect(args.source, args.dest or MEASUREMENTS)
    print(f"records filed in {folder}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m verify", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="measure one configuration and compare it with the planner")
    run.add_argument("--model", required=True, help="catalog id, config.json or folder, or Hub id")
    run.add_argument(
        "--format", required=True, help="bf16, fp16, bnb-int8, bnb-nf4[-dq], bnb-fp4[-dq], fp8, ..."
    )
    run.add_argument("--engine", default="transformers", choices=ENGINES)
    run.add_argument("--context", type=int, default=4096, help="tokens per sequence, prompt + decode")
    run.add_argument("--batch", type=int, default=1)
    run.add_argument("--decode", type=int, default=16, help="tokens to generate (0: prefill only)")
    run.add_argument("--kv-dtype", default="auto")
    run.add_argument("--device", default="cuda", choices=DEVICES)
    run.add_argument(
        "--weights", default="random", choices=WEIGHTS, help="random from the config, or the checkpoint"
    )
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--tiny", action="store_true", help="a few narrow layers of the same architecture")
    run.add_argument("--id", default=None, help="a name for the record")
    run.add_argument("--dry-run", action="store_true", help="everything but CUDA: meta build + tiny CPU run")
    run.add_argument("--json", action="store_true", help="print the JSON record")
    run.add_argument("--out", default=None, help="write the JSON record to this file")
    run.add_argument("--quiet", action="store_true", help="print nothing (with --out)")
    run.set_defaults(func=cmd_run)

    suite = sub.add_parser("suite", help="run a suite file, each configuration in its own subprocess")
    suite.add_argument("suite", help="suite JSON file (e.g. verify/suites/h100.json)")
    suite.add_argument("--out", required=True, help="output folder")
    suite.add_argument("--dry-run", action="store_true", help="every configuration as a dry run (no CUDA)")
    suite.add_argument("--device", choices=DEVICES, default=None, help="override every run's device")
    suite.add_argument("--timeout", type=float, default=None, help="seconds per configuration")
    suite.add_argument("--budget", type=float, default=None, help="seconds for the whole suite")
    suite.add_argument("--only", default=None, help="comma-separated run ids or indexes")
    suite.add_argument("--no-progress", action="store_true", help="one line per run instead of a bar")
    suite.set_defaults(func=cmd_suite)

    env = sub.add_parser("env", help="print the environment a record carries")
    env.add_argument("--device", choices=DEVICES, default="cpu")
    env.set_defaults(func=cmd_env)

    wheels = sub.add_parser("wheels", help="download requirements-verify.txt as wheels for the GPU machine")
    wheels.add_argument("dir", help="folder for the wheels (not committed)")
    wheels.add_argument("--python-version", default="3.12", help="the GPU machine's Python (default 3.12)")
    wheels.add_argument("--dry-run", action="store_true", help="print the pip commands only")
    wheels.set_defaults(func=cmd_wheels)

    col = sub.add_parser("collect", help="file a suite's records under data/measurements/<date>_<gpu>/")
    col.add_argument("source", help="suite output folder or records.jsonl")
    col.add_argument("--dest", default=None, help="default: data/measurements")
    col.set_defaults(func=cmd_collect)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_libraries()
    try:
        return args.func(args)
    except (ConfigError, PlannerError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


__all__ = ["build_parser", "main", "print_record"]
