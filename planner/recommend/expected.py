"""Expected quality of one (model, format): the model's published score times the format's retention.

Both halves come from ``data/quality`` through :mod:`planner.quality`; this module only combines
them and says why when it cannot (no published score, or no published accuracy retention).
"""

from __future__ import annotations

from functools import cache, lru_cache

from planner.frozen import record
from planner.quality import BenchmarkScore, Retention, load_format_quality, model_score, retention

#: Benchmarks a recommendation can rank by: key -> (label, ``ModelScore`` attribute).
BENCHMARKS: dict[str, tuple[str, str]] = {
    "mmlu-pro": ("MMLU-Pro", "mmlu_pro"),
    "mmlu": ("MMLU (5-shot)", "mmlu_5shot"),
}
#: The primary benchmark: MMLU-Pro has the broadest coverage of the catalog (the publishers' own
#: tables for 2024-26 models, the Open LLM Leaderboard v2 for the rest).
DEFAULT_BENCHMARK = "mmlu-pro"


@record
class ExpectedQuality:
    """The published score, the retention it is scaled by, and the product (``None`` with a ``reason``).

    ``retention_used`` is the retention the product uses: the published median capped at 1.0 (a
    median above 100% is benchmark noise, not a gain over the 16-bit original), or 1.0 for a
    model released in that format. ``expected_low``/``expected_high`` use the published range.
    """

    benchmark: str
    score: BenchmarkScore | None
    score_note: str | None
    retention: Retention
    retention_used: float | None
    expected: float | None
    expected_low: float | None
    expected_high: float | None
    reason: str | None

    @property
    def ranked(self) -> bool:
        """Whether there is a number to rank by."""
        return self.expected is not None


def benchmark_label(benchmark: str) -> str:
    """The benchmark's name as shown (``"MMLU (5-shot)"``)."""
    return BENCHMARKS[benchmark][0]


def published_score(model_id: str, benchmark: str) -> tuple[BenchmarkScore | None, str | None]:
    """The model's ``benchmark`` score and its note: the publisher's, else the Open LLM Leaderboard's."""
    entry = model_score(model_id)
    if entry is None:
        return None, "no published score recorded for this id (data/quality/models.json, leaderboard.json)"
    score = entry.best(BENCHMARKS[benchmark][1])
    note = entry.note if score is not None and score is getattr(entry, BENCHMARKS[benchmark][1]) else None
    if (
        score is not None
        and note is None
        and score.source.startswith("https://huggingface.co/spaces/open-llm")
    ):
        note = "The publisher prints no such figure; this is the Open LLM Leaderboard's own run of the checkpoint."
    return score, note if score is not None else entry.note


def _missing_score_reason(model_id: str, benchmark: str, note: str | None) -> str:
    label = benchmark_label(benchmark)
    entry = model_score(model_id)
    others = []
    if entry is not None:
        for key, (other_label, attr) in BENCHMARKS.items():
            other = entry.best(attr)
            if key != benchmark and other is not None:
                others.append(f"{other_label} {other.value:g} is published (rank by {key})")
    text = f"no published {label} score"
    if others:
        text += "; " + "; ".join(others)
    return f"{text}. {note}" if note else text


@cache
def _native_models(format_id: str) -> frozenset[str]:
    marker = load_format_quality().native.get(format_id)
    return frozenset(marker.models) if marker else frozenset()


@cache
def format_retention(format_id: str, params_billion: float) -> Retention:
    """:func:`planner.quality.retention`, cached (the same pair is asked once per model and budget)."""
    return retention(format_id, params_billion)


@lru_cache(maxsize=8192)
def expected_quality(model_id: str, format_id: str, params_billion: float, benchmark: str) -> ExpectedQuality:
    """``score x min(retention, 1)`` for ``model_id`` stored in ``format_id``, or the reason there is none.

    Cached, as the published data it reads is (a new context or budget asks again for every pair)."""
    score, note = published_score(model_id, benchmark)
    ret = format_retention(format_id, params_billion)
    native = model_id in _native_models(ret.format_id)
    if native:
        used, low, high = 1.0, 1.0, 1.0
    elif ret.value is not None:
        used = min(ret.value, 1.0)
        low, high = min(ret.low, 1.0), min(ret.high, 1.0)
    else:
        used = low = high = None
    reasons = []
    if score is None:
        reasons.append(_missing_score_reason(model_id, benchmark, note))
    if used is None:
        if ret.basis == "perplexity":
            reasons.append(
                f"no published accuracy retention for {format_id} (only perplexity/KLD, shown as evidence; "
                "not converted into accuracy)"
            )
        else:
            reasons.append(f"no published measurement of {format_id}'s quality loss: {ret.note}")
    if reasons:
        return ExpectedQuality(benchmark, score, note, ret, used, None, None, None, "; ".join(reasons))
    return ExpectedQuality(
        benchmark,
        score,
        note,
        ret,
        used,
        score.value * used,
        score.value * low,
        score.value * high,
        None,
    )


@cache
def native_formats(model_id: str) -> tuple[str, ...]:
    """Formats ``model_id`` is released in (``formats.json`` ``native``: gpt-oss MXFP4, DeepSeek-V3 FP8 blocks)."""
    table = load_format_quality()
    return tuple(fid for fid, marker in table.native.items() if model_id in marker.models)


def is_native(model_id: str, format_id: str) -> bool:
    """Whether ``model_id`` is released in ``format_id`` (so no quantization loss applies)."""
    return model_id in _native_models(format_id)


__all__ = [
    "BENCHMARKS",
    "DEFAULT_BENCHMARK",
    "ExpectedQuality",
    "benchmark_label",
    "expected_quality",
    "format_retention",
    "is_native",
    "native_formats",
    "published_score",
]
