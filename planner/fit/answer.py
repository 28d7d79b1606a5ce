"""The whole answer for one plan against a GPU budget, and its plain-data forms (JSON, CSV rows).

``python -m planner estimate --gpu ... --json`` and the app's Fit check page (and its downloads)
share these functions, so the file a user downloads has the CLI's keys and numbers.

:func:`fit_answer` adds to one :class:`~planner.memory.estimate.MemoryEstimate`: the fit, the
max context and max batch that fit, a roofline speed estimate (when the budget names a catalog GPU
and the plan fits), and for llama.cpp plans that do not fit the partial-offload alternative
(``-ngl``, ``--n-cpu-moe``) with its own speed estimate.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from planner.fit.budget import Budget, charged_bytes
from planner.formats import QuantFormat
from planner.frozen import record
from planner.hardware.units import GIB
from planner.memory.estimate import MemoryEstimate, RunSettings
from planner.memory.figure import Figure
from planner.model import ModelSpec

if TYPE_CHECKING:
    from planner.engines.base import Launch

    # NOTE: the solvers, offload and speed models load when a fit is asked for, so a plain
    # ``estimate`` (no GPU) starts without them.
    from planner.fit.offload import OffloadPlan
    from planner.fit.solvers import FitResult, Limit
    from planner.fit.speed import SpeedEstimate
    from planner.memory.startup import Startup
    from planner.request import ResolvedPlan

#: The keys ``estimate --json`` adds when a GPU is given (all ``None`` without one).
FIT_KEYS = (
    "gpu",
    "per_gpu",
    "fits",
    "headroom",
    "max_context",
    "max_batch",
    "decode_tokens_per_s",
    "prefill_seconds",
    "startup",
)
#: Columns of :func:`plan_rows` (and of the CSV download), in order.
ROW_COLUMNS = ("quantity", "value", "unit", "gib", "low", "high", "exact", "rule", "config_keys", "source")


@record
class FitAnswer:
    """What a plan adds when a GPU is given: the fit, the limits, the speed and the offload alternative.

    ``speed`` is ``None`` when the budget has no catalog GPU (a custom size has no bandwidth) or the
    plan does not fit. ``offload`` is llama.cpp's partial-offload plan, made only when everything on
    the GPU does not fit (and nothing else blocks the run); ``offload_speed`` is its decode/prefill
    estimate with the host-resident layers read at host bandwidth.
    """

    fit: FitResult
    max_context: Limit
    max_batch: Limit
    speed: SpeedEstimate | None
    offload: OffloadPlan | None
    offload_speed: SpeedEstimate | None = None
    startup: Startup | None = None  # vLLM, SGLang, TensorRT-LLM: what the server reserves on this GPU

    @property
    def bar_limit_bytes(self) -> int:
        """GPU bytes the estimate's whole bar may reach on one device before the plan stops fitting.

        The engine's usable memory, plus what it keeps outside its own allowance (vLLM's CUDA
        context, created before its ``gpu_memory_utilization`` pool is measured). On several GPUs:
        the first device's.
        """
        est = self.fit.estimate
        return self.fit.allowance.usable_bytes[0] + (est.total - charged_bytes(est))


def plan_speed(est: MemoryEstimate, budget: Budget, fits: bool = True) -> SpeedEstimate | None:
    """The roofline speed of ``est`` on the budget's catalog GPU, or ``None`` (no catalog GPU, or no fit).

    Several GPUs: vLLM shards tensors (``tensor``); llama.cpp and transformers split layers (``layer``).
    """
    from planner.fit.solvers import TENSOR_PARALLEL_ENGINES
    from planner.fit.speed import estimate_speed

    if budget.gpu is None or not fits:
        return None
    mode = "tensor" if est.engine in TENSOR_PARALLEL_ENGINES else "layer"
    return estimate_speed(est, budget.gpu, budget.count, mode=mode)


def fit_answer(
    spec: ModelSpec, fmt: QuantFormat, settings: RunSettings, est: MemoryEstimate, budget: Budget
) -> FitAnswer:
    """The full answer for ``est`` (made from ``spec``, ``fmt`` and ``settings``) on ``budget``."""
    from planner.fit.offload import OFFLOAD_ENGINES, offload_plan
    from planner.fit.solvers import fit_estimate, max_batch, max_context

    fit = fit_estimate(est, budget)
    partial = est.engine in OFFLOAD_ENGINES and not fit.fits and not fit.blockers
    offload = offload_plan(spec, fmt, settings, budget, engine=est.engine) if partial else None
    offload_speed = None
    if offload is not None and offload.gpu_layers is not None:
        offload_speed = plan_speed(offload.fit.estimate, budget)
    from planner.engines import get_engine

    startup = get_engine(est.engine).startup(
        spec, fmt, settings, budget.devices[0].total_bytes, tensor_parallel=budget.count
    )
    return FitAnswer(
        fit=fit,
        max_context=max_context(spec, fmt, est.engine, settings, budget),
        max_batch=max_batch(spec, fmt, est.engine, settings, budget),
        speed=plan_speed(est, budget, fit.fits),
        offload=offload,
        offload_speed=offload_speed,
        startup=startup,
    )


def answer_plan(plan: ResolvedPlan) -> tuple[MemoryEstimate, FitAnswer | None]:
    """The estimate of a resolved plan, and its fit answer when the plan names a GPU budget."""
    from planner.engines import estimate

    est = estimate(plan.spec, plan.format, plan.engine, plan.settings)
    if plan.budget is None:
        return est, None
    return est, fit_answer(plan.spec, plan.format, plan.settings, est, plan.budget)


def plan_json(plan: ResolvedPlan) -> dict[str, Any]:
    """``estimate --json`` for a resolved plan (the CLI prints it; the HTTP API returns it)."""
    return estimate_json(*answer_plan(plan))


# ---------------------------------------------------------------------------------------------
# JSON (the ``estimate --json`` contract)
# ---------------------------------------------------------------------------------------------


def gpu_json(budget: Budget) -> dict[str, Any]:
    """The ``gpu`` object: first device's name and capacity, the count and where the figure came from."""
    return {
        "name": budget.devices[0].name,
        "count": budget.count,
        "vram": budget.devices[0].capacity_bytes,
        "source": budget.source,
    }


def offload_json(plan: OffloadPlan | None, speed: SpeedEstimate | None = None) -> dict[str, Any] | None:
    """llama.cpp's partial-offload alternative when everything on the GPU does not fit."""
    if plan is None:
        return None
    experts = plan.experts
    return {
        "gpu_layers": plan.gpu_layers,
        "flag": plan.flag,
        "gpu": plan.fit.required_bytes,
        "headroom": plan.fit.headroom_bytes,
        "host": plan.host_bytes,
        "repeating_layers_on_gpu": plan.repeating_on_gpu,
        "n_layer": plan.n_layer,
        "n_cpu_moe": None if experts is None else experts.n_cpu_moe,
        "n_cpu_moe_flag": None if experts is None else experts.flag,
        "n_cpu_moe_host": None if experts is None else experts.host_bytes,
        "n_cpu_moe_gpu": None if experts is None else experts.fit.required_bytes,
        "speed": None if speed is None else speed.to_dict(),
        "notes": list(plan.notes) + ([] if experts is None else list(experts.notes)),
    }


def fit_json(answer: FitAnswer | None) -> dict[str, Any]:
    """The keys ``estimate --json`` adds (null where no GPU was given or the figure is not known)."""
    if answer is None:
        return dict.fromkeys(FIT_KEYS)
    fit = answer.fit
    allowance = fit.allowance
    speed = answer.speed.to_dict() if answer.speed is not None else None
    return {
        "gpu": gpu_json(fit.budget),
        "per_gpu": [
            {
                "name": share.name,
                "capacity": device.capacity_bytes,
                "margin": margin,
                "usable": share.usable_bytes,
                "used": share.used_bytes,
                "headroom": share.headroom_bytes,
            }
            for share, device, margin in zip(
                fit.per_gpu, fit.budget.devices, allowance.margin_bytes, strict=True
            )
        ],
        "fits": fit.fits,
        "headroom": fit.headroom_bytes,
        "fullest_gpu": {"name": fit.tightest.name, "headroom": fit.tightest.headroom_bytes},
        "required": fit.required_bytes,
        "usable": fit.usable_bytes,
        "max_context": answer.max_context.value,
        "max_context_capped": answer.max_context.capped,
        "max_batch": answer.max_batch.value,
        "max_batch_capped": answer.max_batch.capped,
        "decode_tokens_per_s": speed["decode_tokens_per_s"] if speed else None,
        "prefill_seconds": speed["prefill_seconds"] if speed else None,
        "speed": speed,
        "split": fit.split.to_dict() if fit.split is not None else None,
        "offload": offload_json(answer.offload, answer.offload_speed),
        "fit_rule": {"rule": allowance.rule, "source": allowance.source},
        "fit_blockers": list(fit.blockers),
        "fit_notes": [*fit.notes, *answer.max_context.notes, *answer.max_batch.notes],
        "startup": answer.startup.to_dict() if answer.startup is not None else None,
    }


def plan_launch(est: MemoryEstimate, answer: FitAnswer | None = None) -> Launch | None:
    """The command that runs ``est`` (the engine's own :meth:`~planner.engines.base.Engine.launch`)."""
    from planner.engines import get_engine

    return get_engine(est.engine).launch(est, answer)


def launch_json(est: MemoryEstimate, answer: FitAnswer | None = None) -> dict[str, Any] | None:
    """The ``launch`` object of ``estimate --json`` (``None`` where no command is modelled)."""
    launch = plan_launch(est, answer)
    return None if launch is None else launch.to_dict()


def estimate_json(est: MemoryEstimate, answer: FitAnswer | None = None) -> dict[str, Any]:
    """What ``python -m planner estimate --json`` prints: the estimate, the fit keys (null without a GPU)
    and ``launch``, the command that runs the plan (null where none is modelled)."""
    return {**est.to_dict(), **fit_json(answer), "launch": launch_json(est, answer)}


# ---------------------------------------------------------------------------------------------
# rows (the CSV download): one quantity per row, bytes as integers with GiB beside them
# ---------------------------------------------------------------------------------------------


def _row(quantity: str, value: Any, unit: str, **extra: Any) -> dict[str, Any]:
    row = dict.fromkeys(ROW_COLUMNS)
    row.update(quantity=quantity, value=value, unit=unit, **extra)
    if unit == "bytes" and isinstance(value, int):
        row["gib"] = round(value / GIB, 4)
    return row


def _figure_row(quantity: str, fig: Figure) -> dict[str, Any]:
    low, high = fig.band
    return _row(
        quantity,
        fig.bytes,
        "bytes",
        low=low,
        high=high,
        exact=fig.exact,
        rule=fig.rule,
        config_keys=" ".join(fig.keys),
        source=fig.source,
    )


def plan_rows(est: MemoryEstimate, answer: FitAnswer | None = None) -> list[dict[str, Any]]:
    """The plan as rows of ``ROW_COLUMNS``: every memory figure with its derivation, then the fit answers.

    Memory rows carry integer bytes in ``value`` (and ``low``/``high``) and the same in GiB (2**30
    bytes) in ``gib``; speed rows are estimates with their band.
    """
    low, high = est.total_band
    rows = [
        _row("model", est.model.name, "id"),
        _row("format", est.format.id, "id"),
        _row("engine", est.engine, "id"),
        _row("context", est.settings.context, "tokens"),
        _row("batch", est.settings.batch, "sequences"),
        _row("kv_dtype", est.kv_dtype, "type"),
        _row("bits_per_weight", round(est.weights_report.bits_per_weight, 4), "bits"),
        _figure_row("gpu weights", est.weights),
        _figure_row("gpu kv_cache", est.kv_cache),
        _figure_row("gpu activations", est.activations),
        _figure_row("gpu overhead", est.overhead),
        *(_figure_row(f"gpu {c.name}", c.gpu) for c in est.extras),
        _row("gpu total", est.total, "bytes", low=low, high=high, exact=low == high),
        _figure_row("host weights", est.host_weights),
        _figure_row("host kv_cache", est.host_kv_cache),
        _figure_row("host activations", est.host_activations),
        *(_figure_row(f"host {c.name}", c.host) for c in est.extras if c.host.bytes),
        _row("host total", est.host_total, "bytes"),
    ]
    if answer is None:
        return rows
    fit = answer.fit
    budget = fit.budget
    rows += [
        _row("gpu", budget.label, "text", source=budget.source),
        _row("gpu count", budget.count, "GPUs"),
        _row("gpu capacity", budget.capacity_bytes, "bytes"),
        _row("usable", fit.usable_bytes, "bytes", rule=fit.allowance.rule, source=fit.allowance.source),
        _row("required", fit.required_bytes, "bytes"),
        _row(
            "headroom", fit.headroom_bytes, "bytes", rule="usable - required (negative: short by that much)"
        ),
        _row("fits", fit.fits, "bool", rule="; ".join(fit.blockers) or None),
    ]
    for limit, unit in ((answer.max_context, "tokens"), (answer.max_batch, "sequences")):
        rule = "; ".join(limit.notes) or None
        rows.append(_row(f"max_{limit.what}", limit.value, unit, rule=rule, exact=not limit.capped))
    for share in fit.split.shares if fit.split is not None else ():
        rows.append(
            _row(
                f"split gpu {share.index} ({fit.split.mode})",
                share.total,
                "bytes",
                rule=(
                    f"weights {share.weights}, kv_cache {share.kv_cache}, activations {share.activations}, "
                    f"overhead {share.overhead}, headroom {share.headroom}"
                ),
            )
        )
    rows += _speed_rows("", answer.speed)
    if answer.offload is not None:
        plan = answer.offload
        rows += [
            _row("offload gpu_layers", plan.gpu_layers, "layers", rule=plan.flag or "nothing fits"),
            _row("offload gpu", plan.fit.required_bytes, "bytes"),
            _row("offload host", plan.host_bytes, "bytes"),
        ]
        rows += _speed_rows("offload ", answer.offload_speed)
    return rows


def _speed_rows(prefix: str, speed: SpeedEstimate | None) -> list[dict[str, Any]]:
    if speed is None:
        return []
    assumptions = "; ".join(speed.assumptions)
    rows = [
        _row(
            f"{prefix}decode_tokens_per_s",
            round(speed.decode_tokens_per_s, 2),
            "tokens/s (estimate)",
            low=round(speed.decode_tokens_per_s_low, 2),
            high=round(speed.decode_tokens_per_s_high, 2),
            exact=False,
            rule=f"{speed.bound}-bound roofline; {assumptions}",
            source="data/speed.json",
        )
    ]
    if speed.prefill_seconds is not None:
        rows.append(
            _row(
                f"{prefix}prefill_seconds",
                round(speed.prefill_seconds, 4),
                f"seconds for {speed.prompt_tokens} prompt tokens (estimate)",
                low=round(speed.prefill_seconds_low, 4),
                high=round(speed.prefill_seconds_high, 4),
                exact=False,
                rule="FLOPs over tensor throughput x MFU (roofline)",
                source="data/speed.json",
            )
        )
    return rows


def rows_csv(rows: Iterable[Mapping[str, Any]], columns: Iterable[str] | None = None) -> str:
    """``rows`` as CSV text with a header (``columns`` default: the first row's keys)."""
    rows = list(rows)
    fields = list(columns) if columns is not None else (list(rows[0]) if rows else [])
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in fields})
    return out.getvalue()


__all__ = [
    "FIT_KEYS",
    "ROW_COLUMNS",
    "FitAnswer",
    "answer_plan",
    "estimate_json",
    "fit_answer",
    "fit_json",
    "gpu_json",
    "launch_json",
    "offload_json",
    "plan_json",
    "plan_launch",
    "plan_rows",
    "plan_speed",
    "rows_csv",
]
