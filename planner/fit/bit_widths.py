"""One model in every representative format: memory, fit, published quality and speed, side by side.

This is the table quantization guides print, computed for one model, engine, run settings and GPU
budget. Each row is :func:`~planner.fit.solvers.fits` for one format, its roofline speed when it
fits a catalog GPU (:func:`~planner.fit.answer.plan_speed`) and the published quality retention
at the model's size (:func:`~planner.quality.retention`). Formats the engine does not load, or
that refuse the model, are listed with the reason instead of being dropped silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from planner.engines import get_engine
from planner.errors import PlannerError
from planner.fit.answer import gpu_json, plan_speed
from planner.fit.budget import Budget
from planner.fit.solvers import FitResult, fits, representative_formats
from planner.fit.speed import SpeedEstimate
from planner.formats import parse_format
from planner.frozen import record
from planner.hardware.units import GIB
from planner.memory.estimate import MemoryEstimate, RunSettings
from planner.model import ModelSpec
from planner.quality import FormatQuality, Retention, load_format_quality, retention

#: How a perplexity-only figure reads, by metric, in order of preference (the most direct first).
_PERPLEXITY_TEXT = {
    "kld": lambda r: f"mean KLD {r.value:.4g} to 16-bit",
    "ppl_ratio": lambda r: f"perplexity x{r.value:.4f}",
    "ppl_delta_pct": lambda r: f"perplexity +{r.value:.3g}%",
    "ppl_delta": lambda r: f"perplexity +{r.value:.3g}",
    "ppl": lambda r: f"perplexity {r.value:.4g} (16-bit {r.baseline_value:.4g})",
    "top1_agreement": lambda r: f"top-1 agreement {r.value:.1f}%",
}
#: Columns of :meth:`BitWidthTable.records` (and of the CSV download), in order.
RECORD_COLUMNS = (
    "format",
    "engine",
    "bits_per_weight",
    "weights",
    "kv_cache",
    "activations",
    "overhead",
    "total",
    "total_gib",
    "total_low",
    "total_high",
    "host",
    "required",
    "usable",
    "headroom",
    "headroom_gib",
    "fits",
    "pick",
    "blockers",
    "quality_retention",
    "quality_retention_low",
    "quality_retention_high",
    "quality_basis",
    "quality_evidence",
    "quality",
    "quality_sources",
    "decode_tokens_per_s",
    "decode_tokens_per_s_low",
    "decode_tokens_per_s_high",
    "prefill_seconds",
)


def quality_text(ret: Retention) -> str:
    """One line for a table cell: the retention and its evidence, or that nothing is published."""
    if ret.basis == "baseline":
        return "16-bit baseline"
    fallback = load_format_quality().fallbacks.get(ret.format_id)
    assumed = f", assumed from {fallback.uses}" if fallback is not None and ret.evidence else ""
    if ret.basis == "accuracy" and ret.value is not None:
        figures = len(ret.evidence)
        spread = "" if ret.low == ret.high else f" (range {ret.low:.1%}-{ret.high:.1%})"
        return (
            f"{ret.value:.1%} of 16-bit accuracy{spread}, {figures} published figure"
            f"{'s' if figures != 1 else ''} at {ret.size_class}{assumed}"
        )
    if ret.basis == "kld" and ret.value is not None:
        low, high = f"{ret.low:.1%}", f"{ret.high:.1%}"
        spread = "" if low == high else f" (range {low}-{high})"
        return (
            f"~{ret.value:.1%} of 16-bit accuracy{spread}, approximate: read from its "
            f"{perplexity_text(ret.evidence)} through published KLD-to-accuracy anchors"
        )
    if ret.basis == "perplexity" and ret.evidence:
        return f"no accuracy figure; {perplexity_text(ret.evidence)}{assumed}"
    return "no published measurement"


def quality_evidence(ret: Retention) -> str:
    """A short cell: what the retention rests on (``"3 figures at 7.62B-8.19B"``, ``"KLD only"``, ...)."""
    if ret.basis == "baseline":
        return "16-bit baseline"
    fallback = load_format_quality().fallbacks.get(ret.format_id)
    assumed = f", as {fallback.uses}" if fallback is not None and ret.evidence else ""
    if ret.basis == "accuracy":
        figures = len(ret.evidence)
        return f"{figures} figure{'s' if figures != 1 else ''} at {ret.size_class}{assumed}"
    if ret.basis == "kld":
        return f"~ from KLD at {ret.size_class}"
    if ret.basis == "perplexity" and ret.evidence:
        metrics = {row.metric for row in ret.evidence}
        kinds = [
            label for metric, label in (("kld", "KLD"), ("top1_agreement", "top-1")) if metric in metrics
        ]
        if metrics & {"ppl", "ppl_ratio", "ppl_delta", "ppl_delta_pct"}:
            kinds.insert(0, "perplexity")
        return f"{'/'.join(kinds)} only{assumed}"
    return "no published measurement"


def perplexity_text(rows: Iterable[FormatQuality]) -> str:
    """The most direct perplexity-type figure among ``rows``, with the model it was measured on."""
    rows = list(rows)
    for metric, text in _PERPLEXITY_TEXT.items():
        for row in rows:
            if row.metric == metric and (metric != "ppl" or row.baseline_value is not None):
                return f"{text(row)} on {row.model}"
    return "perplexity figures only"


def quality_sources(ret: Retention) -> tuple[tuple[str, str], ...]:
    """``(title, url)`` of every publication behind ``ret``, in first-seen order (a KLD translation's too)."""
    seen: dict[str, str] = {}
    for row in ret.evidence:
        seen.setdefault(row.source.url, row.source.title)
    if ret.translation is not None:
        for source in (ret.translation.source, ret.translation.justification):
            seen.setdefault(source.url, source.title)
    return tuple((title, url) for url, title in seen.items())


@record
class BitWidthRow:
    """One format of the table: its fit, published quality and (when it fits a catalog GPU) speed."""

    format_id: str
    fit: FitResult
    retention: Retention
    speed: SpeedEstimate | None
    pick: bool = False

    @property
    def estimate(self) -> MemoryEstimate:
        """The memory estimate behind the row."""
        return self.fit.estimate

    @property
    def bits_per_weight(self) -> float:
        """The model's actual average stored bits per parameter in this format."""
        return self.fit.estimate.weights_report.bits_per_weight

    def record(self) -> dict[str, Any]:
        """Plain data (integer bytes; GiB = 2**30 bytes where a key says so) in ``RECORD_COLUMNS`` order."""
        est = self.estimate
        low, high = est.total_band
        ret = self.retention
        speed = self.speed
        return {
            "format": self.format_id,
            "engine": est.engine,
            "bits_per_weight": round(self.bits_per_weight, 4),
            "weights": est.weights.bytes,
            "kv_cache": est.kv_cache.bytes,
            "activations": est.activations.bytes,
            "overhead": est.overhead.bytes,
            "total": est.total,
            "total_gib": round(est.total / GIB, 4),
            "total_low": low,
            "total_high": high,
            "host": est.host_total,
            "required": self.fit.required_bytes,
            "usable": self.fit.usable_bytes,
            "headroom": self.fit.headroom_bytes,
            "headroom_gib": round(self.fit.headroom_bytes / GIB, 4),
            "fits": self.fit.fits,
            "pick": self.pick,
            "blockers": "; ".join(self.fit.blockers),
            "quality_retention": ret.value,
            "quality_retention_low": ret.low,
            "quality_retention_high": ret.high,
            "quality_basis": ret.basis,
            "quality_evidence": quality_evidence(ret),
            "quality": quality_text(ret),
            "quality_sources": " | ".join(f"{title} <{url}>" for title, url in quality_sources(ret)),
            "decode_tokens_per_s": None if speed is None else round(speed.decode_tokens_per_s, 2),
            "decode_tokens_per_s_low": None if speed is None else round(speed.decode_tokens_per_s_low, 2),
            "decode_tokens_per_s_high": None if speed is None else round(speed.decode_tokens_per_s_high, 2),
            "prefill_seconds": None
            if speed is None or speed.prefill_seconds is None
            else round(speed.prefill_seconds, 4),
        }


@record
class Skipped:
    """A candidate format left out of the table, and why (the engine does not load it, the model refuses it)."""

    format_id: str
    reason: str


@record
class BitWidthTable:
    """Every candidate format for one model on one budget, most bits per weight first.

    ``pick`` marks the first row that fits: the most bits (the least quality loss) the GPU holds.
    """

    model: str
    engine: str | None
    settings: RunSettings
    budget: Budget
    rows: tuple[BitWidthRow, ...]
    skipped: tuple[Skipped, ...]

    @property
    def pick(self) -> BitWidthRow | None:
        """The row with the most bits per weight that fits, if any."""
        return next((r for r in self.rows if r.pick), None)

    def records(self) -> list[dict[str, Any]]:
        """One :meth:`BitWidthRow.record` per row."""
        return [r.record() for r in self.rows]

    def to_dict(self) -> dict[str, Any]:
        """The table as JSON: the question (model, engine, settings, GPU) and one record per format."""
        return {
            "model": self.model,
            "engine": self.engine,
            "context": self.settings.context,
            "batch": self.settings.batch,
            "kv_dtype": self.settings.kv_dtype_k
            if self.settings.kv_dtype_k == self.settings.kv_dtype_v
            else f"{self.settings.kv_dtype_k}/{self.settings.kv_dtype_v}",
            "gpu": gpu_json(self.budget),
            "formats": self.records(),
            "pick": None if self.pick is None else self.pick.format_id,
            "skipped": [{"format": s.format_id, "reason": s.reason} for s in self.skipped],
            "notes": list(self.budget.notes),
        }


def bit_width_candidates(engine: str | None, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The representative formats for ``engine`` (``None``: each format's own engine), plus ``extra`` ids."""
    ids = list(representative_formats(engine))
    for fid in extra:
        canonical = parse_format(fid).id
        if canonical not in ids:
            ids.append(canonical)
    return tuple(ids)


def bit_width_table(
    spec: ModelSpec,
    engine: str | None,
    settings: RunSettings | None,
    budget: Budget,
    candidates: Iterable[str] | None = None,
) -> BitWidthTable:
    """Each candidate format of ``spec`` on ``engine`` (``None``: the format's own) against ``budget``.

    Candidates default to :func:`~planner.fit.solvers.representative_formats`. Rows are sorted by
    bits per weight, most first; quality retention is looked up at the model's total parameters.
    """
    base = settings or RunSettings()
    engine_id = get_engine(engine).id if engine else None
    params_billion = spec.total_parameters / 1e9
    rows: list[tuple[float, str, FitResult]] = []
    skipped: list[Skipped] = []
    for candidate in candidates if candidates is not None else representative_formats(engine_id):
        fmt = parse_format(candidate)
        if engine_id and not get_engine(engine_id).loads(fmt):
            skipped.append(Skipped(fmt.id, f"{engine_id} does not load {fmt.id} weights"))
            continue
        try:
            result = fits(spec, fmt, engine_id, base, budget)
        except PlannerError as exc:
            skipped.append(Skipped(fmt.id, str(exc)))
            continue
        rows.append((result.estimate.weights_report.bits_per_weight, fmt.id, result))
    rows.sort(key=lambda r: (-r[0], r[1]))
    out: list[BitWidthRow] = []
    picked = False
    for _, fid, result in rows:
        pick = result.fits and not picked
        picked = picked or pick
        out.append(
            BitWidthRow(
                format_id=fid,
                fit=result,
                retention=retention(fid, params_billion),
                speed=plan_speed(result.estimate, budget, result.fits),
                pick=pick,
            )
        )
    return BitWidthTable(spec.name, engine_id, base, budget, tuple(out), tuple(skipped))


__all__ = [
    "RECORD_COLUMNS",
    "BitWidthRow",
    "BitWidthTable",
    "Skipped",
    "bit_width_candidates",
    "bit_width_table",
    "perplexity_text",
    "quality_evidence",
    "quality_sources",
    "quality_text",
]
