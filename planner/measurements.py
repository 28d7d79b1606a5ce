"""The GPU records in ``data/measurements/`` next to the current planner's prediction for each.

A record (written by ``python -m verify``, schema in ``data/measurements/README.md``) holds what
the GPU held and what the planner predicted *then*. This module re-predicts every record with
the planner as it is *now*, so the accuracy table, the calibration and the tests that guard
accuracy always judge the current code. The verifier uses :func:`predicted_dict` and
:func:`compare` too: one definition of which measured figure meets which predicted one.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import field
from functools import cache
from pathlib import Path
from typing import Any

from planner.errors import PlannerError
from planner.frozen import record
from planner.memory.estimate import MemoryEstimate, RunSettings

MEASUREMENTS_DIR = Path(__file__).resolve().parent.parent / "data" / "measurements"

#: measured key -> predicted key, compared component by component (the record's ``error``).
COMPARED = (
    ("weights", "weights"),
    ("kv_cache", "kv_cache"),
    ("kv_cache_storage", "kv_cache_storage"),
    ("activations", "activations_allocated"),
    ("peak_allocated", "peak_allocated"),
    ("allocator_slack", "allocator_slack"),
    ("non_torch", "non_torch"),
    ("cuda_context", "cuda_context"),
    ("overhead", "overhead"),
    ("process_total", "total"),
)

#: What each compared component means, for tables.
COMPONENT_LABELS = {
    "weights": "Weights",
    "kv_cache": "KV cache",
    "kv_cache_storage": "KV cache storage after prefill",
    "activations": "Activations + cuBLAS workspaces",
    "peak_allocated": "Peak allocated (torch)",
    "allocator_slack": "Allocator slack (reserved - allocated)",
    "non_torch": "Outside torch (CUDA context, kernels)",
    "cuda_context": "CUDA context after init",
    "overhead": "Overhead (process - peak allocated)",
    "process_total": "Process total (nvidia-smi)",
}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def predicted_dict(est: MemoryEstimate) -> dict[str, Any]:
    """The planner's figures for a record, each a sum of the estimate's own parts.

    ``peak_allocated`` = weights + KV + activations + the cuBLAS workspaces torch's caching
    allocator holds (what ``max_memory_allocated`` sees; ``activations_allocated`` is that peak
    beyond weights and KV); ``allocator_slack`` = reserved minus
    allocated; ``non_torch`` = what the process holds outside torch's allocator (CUDA context and
    kernel modules); ``kv_cache_storage`` = KV + what sliding layers pin until the first decode
    step (a part of the activations).
    """
    d = est.to_dict()
    mem = d["memory"]
    parts = est.overhead.parts
    workspace = parts.get("cublas_and_kernels", 0)
    retention = est.activations.parts.get("sliding_prefill_retention", 0)
    return {
        "weights": mem["weights"],
        "kv_cache": mem["kv_cache"],
        "activations": mem["activations"],
        "overhead": mem["overhead"],
        "total": mem["total"],
        "total_low": mem["total_low"],
        "total_high": mem["total_high"],
        "activations_allocated": mem["activations"] + workspace,
        "peak_allocated": mem["weights"] + mem["kv_cache"] + mem["activations"] + workspace,
        "allocator_slack": parts.get("allocator_slack"),
        "non_torch": parts.get("cuda_context"),
        "kv_cache_storage": mem["kv_cache"] + retention,
        "cuda_context": parts.get("cuda_context"),
        "kv_dtype": d["kv_dtype"],
        "bits_per_weight": d["bits_per_weight"],
        "parameters": d["parameters"]["total"],
        "notes": d["notes"],
    }


def derived_measurements(measured: Mapping[str, Any]) -> dict[str, Any]:
    """``measured`` plus the components the protocol implies (bytes; absent where an input is).

    activations = peak allocated - weights - KV cache; allocator slack = peak reserved - peak
    allocated; outside torch = process total - reserved (both read after generate()); overhead =
    process total - peak allocated.
    """
    out = dict(measured)
    peak, weights, kv = measured.get("peak_allocated"), measured.get("weights"), measured.get("kv_cache")
    reserved, total = measured.get("reserved"), measured.get("process_total")
    max_reserved = measured.get("max_reserved", reserved)
    if _number(peak) and _number(weights) and _number(kv):
        out.setdefault("activations", int(peak) - int(weights) - int(kv))
    if _number(max_reserved) and _number(peak):
        out.setdefault("allocator_slack", int(max_reserved) - int(peak))
    if _number(total) and _number(reserved):
        out.setdefault("non_torch", int(total) - int(reserved))
    if _number(total) and _number(peak):
        out.setdefault("overhead", int(total) - int(peak))
    return out


def compare(measured: Mapping[str, Any], predicted: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Absolute (measured - predicted, bytes) and relative error for each component both sides have."""
    out = {}
    for m_key, p_key in COMPARED:
        m, p = measured.get(m_key), predicted.get(p_key)
        if not (_number(m) and _number(p)):
            continue
        diff = int(m) - int(p)
        out[m_key] = {
            "measured": int(m),
            "predicted": int(p),
            "abs": diff,
            "rel": round(diff / p, 6) if p else None,
        }
    return out


@record
class MeasuredRun:
    """One stored record: its configuration, where it ran, and what the GPU held."""

    path: Path
    id: str
    model: str
    format: str
    engine: str
    context: int
    batch: int
    kv_dtype: str
    status: str
    reason: str | None
    gpu: str
    driver: str | None
    packages: dict[str, str | None]
    date: str
    measured: dict[str, Any] = field(default_factory=dict)
    recorded_prediction: dict[str, Any] = field(default_factory=dict)
    gpu_bytes: int | None = None

    @property
    def folder(self) -> str:
        return self.path.parent.name

    def settings(self) -> RunSettings:
        kv = self.kv_dtype or "auto"
        return RunSettings(context=self.context, batch=self.batch, kv_dtype_k=kv, kv_dtype_v=kv)


def _run(path: Path, raw: Mapping[str, Any]) -> MeasuredRun:
    try:
        c = raw["config"]
        env = raw.get("environment") or {}
        gpu = env.get("gpu") or {}
        return MeasuredRun(
            path=path,
            id=str(c.get("id") or path.stem),
            model=str(c["model"]),
            format=str(c["format"]),
            engine=str(c.get("engine") or "transformers"),
            context=int(c["context"]),
            batch=int(c["batch"]),
            kv_dtype=str(c.get("kv_dtype") or "auto"),
            status=str(raw["status"]),
            reason=raw.get("reason"),
            gpu=str(gpu.get("name") or env.get("device") or "unknown"),
            driver=env.get("driver"),
            packages=dict(env.get("packages") or {}),
            date=str(env.get("date") or "")[:10],
            measured=derived_measurements(raw.get("measured") or {}),
            recorded_prediction=dict(raw.get("predicted") or {}),
            gpu_bytes=gpu.get("usable_bytes"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PlannerError(f"{path}: not a measurement record ({exc})") from None


@cache
def _load(root: str) -> tuple[MeasuredRun, ...]:
    runs = []
    for path in sorted(Path(root).glob("*/*.json")):
        if path.name.startswith(("calibration", "summary")):
            continue
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise PlannerError(f"{path}: unreadable record ({exc})") from None
        runs.append(_run(path, raw))
    return tuple(runs)


def load_runs(root: str | Path = MEASUREMENTS_DIR) -> tuple[MeasuredRun, ...]:
    """Every record under ``root`` (one folder per GPU run), in file order."""
    return _load(str(root))


def predict(run: MeasuredRun) -> MemoryEstimate:
    """The current planner's estimate for ``run``'s configuration (catalog model)."""
    from planner.engines import estimate
    from planner.formats import parse_format
    from planner.resolve import load_model

    spec = load_model(run.model, allow_hub=False, allow_local=False)
    return estimate(spec, parse_format(run.format), run.engine, run.settings())


@record
class Comparison:
    """A run next to the current planner's figures for it."""

    run: MeasuredRun
    predicted: dict[str, Any]
    error: dict[str, dict[str, Any]]

    @property
    def predicted_fits(self) -> bool | None:
        gpu = self.run.gpu_bytes
        return None if gpu is None else self.predicted["total"] <= gpu


def compare_run(run: MeasuredRun) -> Comparison:
    predicted = predicted_dict(predict(run))
    return Comparison(run, predicted, compare(run.measured, predicted))


def compare_runs(runs: Iterable[MeasuredRun]) -> list[Comparison]:
    """Every run that reached a measurement, against the current planner."""
    return [compare_run(r) for r in runs if r.status in ("ok", "oom", "error") and r.measured]


@record
class Accuracy:
    """One component's relative error over runs: median of |error|, the worst (signed), count."""

    component: str
    label: str
    runs: int
    median_abs_rel: float
    worst_rel: float
    worst_id: str
    median_abs_bytes: int


def accuracy(comparisons: Iterable[Comparison], components: Iterable[str] | None = None) -> list[Accuracy]:
    """Per-component accuracy over runs that ran to the end (status ok)."""
    done = [c for c in comparisons if c.run.status == "ok"]
    rows = []
    for key in components or [m for m, _ in COMPARED]:
        pairs = [(c.run.id, c.error[key]) for c in done if key in c.error and c.error[key]["rel"] is not None]
        if not pairs:
            continue
        worst_id, worst = max(pairs, key=lambda p: abs(p[1]["rel"]))
        rows.append(
            Accuracy(
                component=key,
                label=COMPONENT_LABELS.get(key, key),
                runs=len(pairs),
                median_abs_rel=statistics.median(abs(e["rel"]) for _, e in pairs),
                worst_rel=worst["rel"],
                worst_id=worst_id,
                median_abs_bytes=round(statistics.median(abs(e["abs"]) for _, e in pairs)),
            )
        )
    return rows


__all__ = [
    "COMPARED",
    "COMPONENT_LABELS",
    "MEASUREMENTS_DIR",
    "Accuracy",
    "Comparison",
    "MeasuredRun",
    "accuracy",
    "compare",
    "compare_run",
    "compare_runs",
    "derived_measurements",
    "load_runs",
    "predict",
    "predicted_dict",
]
