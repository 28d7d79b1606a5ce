"""Fit the transformers engine's empirical constants on half of the GPU records, test on the other half.

The records (``data/measurements/<run>/``) are split by model: models sorted case-blind by id,
alternately to the fitting half and the held-out half, so no model informs its own check.
On the fitting half (each run re-predicted by the current planner):

- ``cuda_context_mib``: median of what the process holds outside torch's allocator
  (NVML process total minus ``memory_reserved``, read after generate()): CUDA context and the
  kernel modules loaded lazily by the run;
- ``transformers_activation_factor`` and ``torch_kernels_workspace_mib``: measured activations
  (peak allocated - weights - KV, minus the exact sliding-layer retention) against the
  structural prefill estimate, as ``y = factor * x + workspace`` by the Theil-Sen estimator
  (median of pairwise slopes, then median intercept: robust to the odd run, Sen 1968,
  doi:10.1080/01621459.1968.10480934). The intercept is what every run holds in the allocator
  whatever its size: cuBLAS/cuBLASLt workspaces;
- ``torch_allocator_slack_fraction``: median of (peak reserved - peak allocated) / (KV + activations).

Each band is the smallest and largest value the fitting runs imply. The held-out half gives the
error figures the README states; ``stated_error`` (worst held-out or fitting error, rounded up)
is what tests hold every stored record to.

``python -m planner.calibration`` prints the fit; ``--write`` stores it in the run's folder
(``calibration.json``) and the fitted values in ``data/engines.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from planner.engines.constants import ENGINES_FILE, constant, reload_constants
from planner.errors import PlannerError
from planner.frozen import record
from planner.hardware.units import MIB
from planner.measurements import (
    COMPONENT_LABELS,
    Accuracy,
    Comparison,
    MeasuredRun,
    accuracy,
    compare,
    compare_runs,
    load_runs,
    predict,
)

#: Components whose error the calibration states (and tests hold records to).
STATED = ("weights", "kv_cache", "activations", "peak_allocated", "non_torch", "process_total")
FITTED = (
    "cuda_context_mib",
    "torch_kernels_workspace_mib",
    "torch_allocator_slack_fraction",
    "transformers_activation_factor",
)


@record
class FittedConstant:
    """A constant's fitted value and band, and the value each fitting run implies."""

    name: str
    value: float
    low: float
    high: float
    method: str
    implied: dict[str, float]


def split_by_model(runs: Sequence[MeasuredRun]) -> tuple[list[MeasuredRun], list[MeasuredRun]]:
    """(fitting half, held-out half): models that ran to the end, sorted case-blind, alternately."""
    models = sorted({r.model for r in runs if r.status == "ok"}, key=str.casefold)
    fit_models = set(models[0::2])
    usable = [r for r in runs if r.status == "ok" and r.engine == "transformers"]
    return [r for r in usable if r.model in fit_models], [r for r in usable if r.model not in fit_models]


def theil_sen(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Slope and intercept: median of pairwise slopes, then the median of ``y - slope x``."""
    slopes = [
        (ys[j] - ys[i]) / (xs[j] - xs[i])
        for i in range(len(xs))
        for j in range(i + 1, len(xs))
        if xs[j] != xs[i]
    ]
    if not slopes:
        raise ValueError("Theil-Sen needs two distinct x values")
    slope = statistics.median(slopes)
    return slope, statistics.median(y - slope * x for x, y in zip(xs, ys, strict=True))


def _structural(run: MeasuredRun) -> tuple[float, int]:
    """(structural prefill bytes at factor 1, exact sliding retention bytes) of the current planner."""
    act = predict(run).activations
    retention = act.parts.get("sliding_prefill_retention", 0)
    return (act.bytes - retention) / constant("transformers_activation_factor").value, retention


def fit(runs: Sequence[MeasuredRun]) -> dict[str, FittedConstant]:
    """The four transformers constants from ``runs`` (ok runs with full measurements)."""
    if len(runs) < 3:
        raise ValueError("calibration needs at least three runs")
    ids = [r.id for r in runs]
    non_torch = [r.measured["non_torch"] / MIB for r in runs]
    xs, ys = [], []
    for r in runs:
        x, retention = _structural(r)
        xs.append(x)
        ys.append(r.measured["activations"] - retention)
    factor, workspace = theil_sen(xs, ys)
    factors = [(y - workspace) / x for x, y in zip(xs, ys, strict=True)]
    workspaces = [(y - factor * x) / MIB for x, y in zip(xs, ys, strict=True)]
    slack = [
        r.measured["allocator_slack"] / (r.measured["kv_cache"] + r.measured["activations"]) for r in runs
    ]
    out = {
        "cuda_context_mib": FittedConstant(
            "cuda_context_mib",
            statistics.median(non_torch),
            min(non_torch),
            max(non_torch),
            "median of process total - memory_reserved after generate() (NVML)",
            dict(zip(ids, non_torch, strict=True)),
        ),
        "transformers_activation_factor": FittedConstant(
            "transformers_activation_factor",
            factor,
            min(factors),
            max(factors),
            "Theil-Sen slope of measured activations on the structural prefill estimate",
            dict(zip(ids, factors, strict=True)),
        ),
        "torch_kernels_workspace_mib": FittedConstant(
            "torch_kernels_workspace_mib",
            workspace / MIB,
            max(0.0, min(workspaces)),
            max(workspaces),
            "Theil-Sen intercept of the same fit: allocator-held bytes every run has (cuBLAS workspaces)",
            dict(zip(ids, workspaces, strict=True)),
        ),
        "torch_allocator_slack_fraction": FittedConstant(
            "torch_allocator_slack_fraction",
            statistics.median(slack),
            min(slack),
            max(slack),
            "median of (max_memory_reserved - max_memory_allocated) / (KV + activations)",
            dict(zip(ids, slack, strict=True)),
        ),
    }
    return out


def _round(name: str, value: float) -> float:
    return round(value, 3) if "fraction" in name or "factor" in name else round(value, 1)


def stated_error(comparisons: Sequence[Comparison]) -> dict[str, float]:
    """Per component: the worst |relative error| over ``comparisons``, rounded up to 0.5 %."""
    out = {}
    for row in accuracy(comparisons, STATED):
        out[row.component] = math.ceil(abs(row.worst_rel) * 200 + 1e-9) / 200
    return out


def _table(rows: Sequence[Accuracy]) -> list[dict[str, Any]]:
    return [
        {
            "component": r.component,
            "runs": r.runs,
            "median_abs_rel": round(r.median_abs_rel, 4),
            "worst_rel": round(r.worst_rel, 4),
            "worst_id": r.worst_id,
            "median_abs_bytes": r.median_abs_bytes,
        }
        for r in rows
    ]


def calibration_record(folder: Path, fitted: dict[str, FittedConstant]) -> dict[str, Any]:
    """What ``calibration.json`` holds: the split, the fit, and the error of the current planner."""
    runs = load_runs(folder.parent)
    runs = [r for r in runs if r.folder == folder.name]
    fit_half, held_out = split_by_model(runs)
    fit_cmp, held_cmp = compare_runs(fit_half), compare_runs(held_out)
    return {
        "about": (
            "Calibration of the transformers engine's empirical constants (planner/calibration.py). "
            "Records split by model; constants fitted on 'fit_runs', errors of the calibrated planner "
            "reported on 'held_out_runs' (never used in the fit)."
        ),
        "folder": folder.name,
        "gpu": runs[0].gpu if runs else None,
        "fit_models": sorted({r.model for r in fit_half}),
        "fit_runs": [r.id for r in fit_half],
        "held_out_models": sorted({r.model for r in held_out}),
        "held_out_runs": [r.id for r in held_out],
        "constants": {
            name: {
                "value": _round(name, c.value),
                "low": _round(name, c.low),
                "high": _round(name, c.high),
                "method": c.method,
                "implied_by_run": {k: _round(name, v) for k, v in c.implied.items()},
            }
            for name, c in fitted.items()
        },
        "held_out_accuracy": _table(accuracy(held_cmp)),
        "held_out_accuracy_before": _table(accuracy(recorded_comparisons(held_out))),
        "fit_accuracy": _table(accuracy(fit_cmp)),
        "stated_error": stated_error(fit_cmp + held_cmp),
    }


def recorded_comparisons(runs: Sequence[MeasuredRun]) -> list[Comparison]:
    """Each run against the prediction stored in its record (the planner when it ran, uncalibrated).

    That planner counted its cuBLAS workspaces outside torch's allocator, so its activations
    are compared as they were.
    """
    out = []
    for r in runs:
        recorded = dict(r.recorded_prediction)
        recorded.setdefault("activations_allocated", recorded.get("activations"))
        out.append(Comparison(r, recorded, compare(r.measured, recorded)))
    return out


README_START, README_END = "<!-- accuracy:start -->", "<!-- accuracy:end -->"
README_FILE = ENGINES_FILE.parents[1] / "README.md"


def _pct(x: float) -> str:
    return f"{x:+.1%}" if x else "0"


def _reason(text: str | None) -> str:
    """A failure's recorded reason, shortened for a sentence."""
    text = (text or "no reason recorded").replace("`", "'").strip()
    return text if len(text) <= 110 else text[:107].rstrip() + "..."


def accuracy_markdown(record: dict[str, Any]) -> str:
    """The README's accuracy section, from a ``calibration.json`` record."""
    runs = [r for r in load_runs() if r.folder == record["folder"]]
    first = next(r for r in runs if r.status == "ok")
    pk = first.packages
    before = {row["component"]: row for row in record["held_out_accuracy_before"]}
    oom = [c for c in compare_runs(runs) if c.run.status == "oom"]
    failed = [r for r in runs if r.status == "error"]
    lines = [
        f"Measured on one **{record['gpu']}** ({first.date}, driver {first.driver}, torch {pk.get('torch')}, "
        f"transformers {pk.get('transformers')}, bitsandbytes {pk.get('bitsandbytes')}, hqq {pk.get('hqq')}) "
        f"with `python -m verify suite`: {len(runs)} configurations, "
        f"{sum(r.status == 'ok' for r in runs)} ran, {len(oom)} ran out of memory "
        f"({sum(c.predicted_fits is False for c in oom)} of them predicted not to fit), {len(failed)} failed"
        + (f" ({'; '.join(sorted({_reason(r.reason) for r in failed}))})" if failed else "")
        + ". "
        f"The transformers engine's four empirical constants were fitted on {len(record['fit_runs'])} runs of "
        f"{len(record['fit_models'])} models and checked on the other {len(record['held_out_runs'])} runs of "
        f"{len(record['held_out_models'])} models ([calibration.json](data/measurements/{record['folder']}/calibration.json)).",
        "",
        "| component (held-out runs) | runs | median abs. error | worst error | worst run | before calibration: median / worst |",
        "| --- | ---: | ---: | ---: | --- | ---: |",
    ]
    for row in record["held_out_accuracy"]:
        if row["component"] in ("kv_cache_storage", "cuda_context", "overhead"):
            continue
        b = before.get(row["component"])
        old = f"{b['median_abs_rel']:.1%} / {_pct(b['worst_rel'])}" if b else "not predicted"
        lines.append(
            f"| {COMPONENT_LABELS[row['component']]} | {row['runs']} | {row['median_abs_rel']:.1%} | "
            f"{_pct(row['worst_rel'])} | {row['worst_id']} | {old} |"
        )
    fitted = ", ".join(
        f"`{name}` = {c['value']:g} (band {c['low']:g}-{c['high']:g})"
        for name, c in record["constants"].items()
    )
    stated = ", ".join(f"{COMPONENT_LABELS[k].lower()} {v:.1%}" for k, v in record["stated_error"].items())
    lines += [
        "",
        f"Error = (measured - predicted) / predicted. Fitted: {fitted}. Tests hold every stored record within: "
        f"{stated}. Decode speed is recorded but not used: those runs timed 15 steps including the first, "
        "which loads the decode kernels (the verifier now keeps every step and reports the median).",
    ]
    return "\n".join(lines)


def update_readme(record: dict[str, Any], path: Path = README_FILE) -> bool:
    """Rewrite the README between its accuracy markers; returns whether the text changed."""
    text = path.read_text(encoding="utf-8")
    head, sep, rest = text.partition(README_START)
    _, sep2, tail = rest.partition(README_END)
    if not sep or not sep2:
        raise ValueError(f"{path.name} has no {README_START} ... {README_END} section")
    new = f"{head}{README_START}\n{accuracy_markdown(record)}\n{README_END}{tail}"
    path.write_text(new, encoding="utf-8")
    return new != text


def write_constants(fitted: dict[str, FittedConstant], folder: Path) -> None:
    """Store the fitted values and bands in ``data/engines.json``, citing the records."""
    data = json.loads(ENGINES_FILE.read_text(encoding="utf-8"))
    where = f"data/measurements/{folder.name}/calibration.json"
    for name, c in fitted.items():
        entry = data["constants"][name]
        entry["value"], entry["low"], entry["high"] = (_round(name, v) for v in (c.value, c.low, c.high))
        if name == "cuda_context_mib":
            # NOTE: an H100's context is larger than a consumer card's; keep the cited low end.
            entry["low"] = min(entry["low"], 250)
        entry.setdefault("prior_source", entry["source"])
        entry["source"] = f"fitted on {len(c.implied)} GPU runs ({c.method}): {where}"
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    ENGINES_FILE.write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m planner.calibration", description=__doc__.split("\n")[0])
    parser.add_argument("folder", nargs="?", help="a folder under data/measurements (default: the newest)")
    parser.add_argument(
        "--write", action="store_true", help="store calibration.json and update data/engines.json"
    )
    parser.add_argument("--readme", action="store_true", help="rewrite the README's accuracy section")
    args = parser.parse_args(argv)
    try:
        return _main(args)
    except (OSError, ValueError, PlannerError) as exc:
        print(f"calibration: {exc}", file=sys.stderr)
        return 2


def _main(args: argparse.Namespace) -> int:
    runs = load_runs()
    folders = sorted({r.path.parent for r in runs})
    if not folders:
        print("no records under data/measurements", file=sys.stderr)
        return 1
    folder = Path(args.folder) if args.folder else folders[-1]
    if not folder.is_absolute():
        folder = next((f for f in folders if f.name == folder.name), folder)
    fit_half, _ = split_by_model([r for r in runs if r.path.parent == folder])
    fitted = fit(fit_half)
    for c in fitted.values():
        print(f"{c.name:32s} {c.value:10.3f}  band [{c.low:.3f}, {c.high:.3f}]  ({c.method})")
    if args.write:
        write_constants(fitted, folder)
        reload_constants()
        record = calibration_record(folder, fitted)
        (folder / "calibration.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {folder / 'calibration.json'} and {ENGINES_FILE}")
    if args.readme:
        record = json.loads((folder / "calibration.json").read_text(encoding="utf-8"))
        update_readme(record)
        print(f"updated {README_FILE.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
