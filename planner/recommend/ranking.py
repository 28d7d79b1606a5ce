"""Rank every (model, format) pair that fits a budget by expected quality, with its evidence.

The models are the catalog's plus any Hub ids added to the comparison (read through
:func:`planner.resolve.load_model`). Expected quality is the model's published benchmark score
times the format's published accuracy retention at the nearest measured model size
(:mod:`planner.recommend.expected`). Memory comes from the engines and the fit solvers
(:mod:`planner.fit`), speed from the roofline estimate (:mod:`planner.fit.speed`); nothing here is a
new figure, only an order and the reasons for it. Pairs whose weights alone cannot fit are skipped before
their estimate (:mod:`planner.recommend.prune`); estimates, fits and speeds are cached per pair and settings,
so a new sort, filter or budget reuses them.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import field, replace
from functools import lru_cache
from typing import Any

from planner.catalog import find_entry, load_catalog
from planner.catalog_cache import catalog_store
from planner.engines import default_engine, get_engine
from planner.engines import estimate as engine_estimate
from planner.errors import PlannerError
from planner.fit import Budget, FitResult, fit_estimate, representative_formats
from planner.fit.solvers import Limit, max_context
from planner.fit.speed import SpeedEstimate, estimate_speed
from planner.formats import parse_format
from planner.frozen import record
from planner.memory.estimate import DEFAULT_CONTEXT, MemoryEstimate, RunSettings
from planner.model.spec import ModelSpec
from planner.recommend.expected import (
    BENCHMARKS,
    DEFAULT_BENCHMARK,
    ExpectedQuality,
    benchmark_label,
    expected_quality,
    native_formats,
)
from planner.recommend.filters import (
    BIT_WIDTHS,
    Filters,
    RecommendError,
    architecture,
    bit_width,
    modality,
    model_exclusion,
    resolve_families,
    resolve_licenses,
)
from planner.recommend.prune import cannot_fit
from planner.recommend.summary import (
    TRADE_OFF_WIDTHS,
    BitWidthPick,
    TradeOff,
    best_per_bit_width,
    larger_at_fewer_bits,
    pareto_front,
)

#: Estimates kept between calls: the catalog x representative formats x a few settings.
ESTIMATE_CACHE_SIZE = 8192
#: How a listing can be ordered: expected quality (the ranking), decode speed, or GPU headroom.
SORTS = ("quality", "speed", "headroom")
#: Specs of Hub models added to a comparison, by id (catalog specs live in the catalog), most recent last;
#: bounded (a hosted API takes ``add-model`` from anyone), an evicted one is read again through the Hub cache.
_HUB_SPECS: OrderedDict[str, ModelSpec] = OrderedDict()
HUB_SPECS_KEPT = 64
_HUB_SPECS_LOCK = threading.Lock()


@record
class ModelRef:
    """One model a recommendation considers: a catalog entry or a Hub id added to the comparison."""

    id: str
    family: str
    license: str | None
    spec: ModelSpec
    source: str  # "catalog" or "hub"


@record
class Candidate:
    """One fitting (model, format, engine) with its evidence: score, retention, memory, speed.

    ``rank`` is 1 for the best ranked pair and ``None`` for pairs listed unranked (the reason is
    ``quality.reason``). ``speed`` is ``None`` when the budget has no catalog GPU behind it.
    """

    model_id: str
    family: str
    license: str | None
    parameters: int
    active_parameters: int
    max_position_embeddings: int | None
    format_id: str
    engine: str
    bit_width: int
    bits_per_weight: float
    fit: FitResult
    quality: ExpectedQuality
    speed: SpeedEstimate | None
    rank: int | None = None
    notes: tuple[str, ...] = ()
    modality: str = "text"
    architecture: str = "dense"
    source: str = "catalog"

    @property
    def ranked(self) -> bool:
        """Whether the pair has an expected quality to rank by."""
        return self.quality.ranked

    @property
    def estimate(self) -> MemoryEstimate:
        """The memory estimate behind the fit."""
        return self.fit.estimate

    def to_dict(self, full: bool = True) -> dict[str, Any]:
        """Plain data for JSON: integer bytes, the evidence with its sources.

        ``full`` False leaves out the retention rows (``evidence_rows`` counts them), the score's
        quote details and the speed estimate's details, for long lists where they repeat.
        """
        q = self.quality
        est = self.fit.estimate
        ret = q.retention
        return {
            "rank": self.rank,
            "model": self.model_id,
            "family": self.family,
            "license": self.license,
            "parameters": self.parameters,
            "active_parameters": self.active_parameters,
            "max_position_embeddings": self.max_position_embeddings,
            "format": self.format_id,
            "engine": self.engine,
            "modality": self.modality,
            "architecture": self.architecture,
            "source": self.source,
            "bit_width": self.bit_width,
            "bits_per_weight": round(self.bits_per_weight, 4),
            "expected_quality": _round(q.expected),
            "expected_quality_low": _round(q.expected_low),
            "expected_quality_high": _round(q.expected_high),
            "unranked_reason": q.reason,
            "score": _score_dict(q, full),
            "retention": {
                "value": _round(ret.value, 6),
                "used": _round(q.retention_used, 6),
                "low": _round(ret.low, 6),
                "high": _round(ret.high, 6),
                "basis": ret.basis,
                "size_class": ret.size_class,
                "note": ret.note,
                "evidence_rows": len(ret.evidence),
                "evidence": [
                    {
                        "format": r.format,
                        "model": r.model,
                        "params_billion": r.params_billion,
                        "metric": r.metric,
                        "benchmark": r.benchmark,
                        "value": r.value,
                        "source": r.source.url,
                        "source_title": r.source.title,
                        "where": r.where,
                    }
                    for r in (ret.evidence if full else ())
                ],
            },
            "memory": {
                "weights": est.weights.bytes,
                "kv_cache": est.kv_cache.bytes,
                "activations": est.activations.bytes,
                "overhead": est.overhead.bytes,
                "required": self.fit.required_bytes,
                "usable": self.fit.usable_bytes,
                "headroom": self.fit.headroom_bytes,
                "host": est.host_total,
            },
            "speed": _speed_dict(self.speed, full),
            "notes": list(self.notes),
        }


@record
class Exclusion:
    """A catalog model left out before any memory was computed, and why."""

    model_id: str
    reason: str


@record
class Recommendation:
    """The ranking for one budget, context and batch, with the assumptions it rests on.

    ``candidates`` holds every fitting pair: ranked ones first (best first), then the unranked
    ones with their reasons. ``no_fit`` lists models kept by the filters for which no format
    tried fits; ``excluded`` models the filters or the context left out.
    """

    budget: Budget
    settings: RunSettings
    engine: str | None
    benchmark: str
    formats: tuple[str, ...]
    filters: Filters
    candidates: tuple[Candidate, ...]
    excluded: tuple[Exclusion, ...]
    no_fit: tuple[str, ...]
    by_bit_width: tuple[BitWidthPick, ...]
    trade_off: TradeOff
    assumptions: tuple[str, ...]
    notes: tuple[str, ...] = ()
    elapsed_s: float = field(default=0.0, compare=False)
    sort: str = "quality"
    pareto: tuple[Candidate, ...] = ()
    trade_offs: tuple[TradeOff, ...] = ()
    extra_models: tuple[str, ...] = ()

    @property
    def ranked(self) -> tuple[Candidate, ...]:
        """Pairs with an expected quality, best first."""
        return self.candidates[: self._ranked_count]

    @property
    def unranked(self) -> tuple[Candidate, ...]:
        """Fitting pairs without a published score or retention, with the reason on each."""
        return self.candidates[self._ranked_count :]

    @property
    def _ranked_count(self) -> int:
        # the ranked pairs come first (the class's contract): a binary search finds where they end
        return bisect_left(self.candidates, True, key=_is_unranked)

    @property
    def best(self) -> Candidate | None:
        """The top pick, or ``None`` when nothing ranked fits."""
        return next(iter(self.ranked), None)

    @property
    def benchmark_label(self) -> str:
        """The ranking benchmark's name as shown (``"MMLU-Pro"``)."""
        return benchmark_label(self.benchmark)

    @property
    def listing(self) -> tuple[Candidate, ...]:
        """Every fitting pair in the ``sort`` order: ranked ones first, then the unranked ones."""
        return sorted_candidates(self.ranked, self.sort) + sorted_candidates(self.unranked, self.sort)

    def to_dict(self, top: int | None = None) -> dict[str, Any]:
        """Plain data for JSON (integer bytes); ``top`` keeps the first ``top`` ranked pairs (in ``sort`` order)."""
        ordered = sorted_candidates(self.ranked, self.sort)
        ranked = ordered if top is None else ordered[:top]
        return {
            "gpu": {
                "name": self.budget.devices[0].name,
                "count": self.budget.count,
                "vram": self.budget.devices[0].capacity_bytes,
                "source": self.budget.source,
                "label": self.budget.label,
            },
            "context": self.settings.context,
            "batch": self.settings.batch,
            "engine": self.engine,
            "benchmark": self.benchmark,
            "benchmark_label": benchmark_label(self.benchmark),
            "formats": list(self.formats),
            "filters": {
                "families": list(self.filters.families),
                "licenses": list(self.filters.licenses),
                "min_context": self.filters.min_context,
                "bit_widths": list(self.filters.bit_widths),
                "modalities": list(self.filters.modalities),
                "architectures": list(self.filters.architectures),
            },
            "sort": self.sort,
            "extra_models": list(self.extra_models),
            "best": None if self.best is None else self.best.to_dict(),
            "ranked": [c.to_dict() for c in ranked],
            "ranked_total": len(self.ranked),
            "unranked": [c.to_dict(full=False) for c in self.unranked],
            "by_bit_width": [
                {
                    "bit_width": p.bit_width,
                    "model": None if p.pick is None else p.pick.model_id,
                    "format": None if p.pick is None else p.pick.format_id,
                    "expected_quality": None if p.pick is None else _round(p.pick.quality.expected),
                    "required": None if p.pick is None else p.pick.fit.required_bytes,
                    "fitting": p.fitting,
                    "note": p.note,
                    "largest": _largest_dict(p),
                }
                for p in self.by_bit_width
            ],
            "trade_off": {
                "sixteen_bit": _pair(self.trade_off.sixteen),
                "larger_four_bit": _pair(self.trade_off.larger_four),
                "difference": _round(self.trade_off.difference),
                "text": self.trade_off.text,
            },
            "trade_offs": [
                {
                    "bits": t.high,
                    "larger_at_bits": t.low,
                    "smaller": _pair(t.sixteen),
                    "larger": _pair(t.larger_four),
                    "difference": _round(t.difference),
                    "larger_wins": t.larger_wins,
                    "text": t.text,
                }
                for t in self.trade_offs
            ],
            "pareto": [_pair(c) for c in self.pareto],
            "no_fit": list(self.no_fit),
            "excluded": [{"model": e.model_id, "reason": e.reason} for e in self.excluded],
            "assumptions": list(self.assumptions),
            "notes": list(self.notes),
            "elapsed_s": round(self.elapsed_s, 3),
        }


def _score_dict(q: ExpectedQuality, full: bool) -> dict[str, Any] | None:
    score = q.score
    if score is None:
        return None
    out = {"benchmark": score.benchmark, "value": score.value, "source": score.source}
    if full:
        out.update(
            shots=score.shots,
            setting=score.setting,
            checkpoint=score.checkpoint,
            where=score.where,
            note=q.score_note,
        )
    return out


def _speed_dict(speed: SpeedEstimate | None, full: bool) -> dict[str, Any] | None:
    if speed is None:
        return None
    out = speed.to_dict()
    if full:
        return out
    keys = ("decode_tokens_per_s", "decode_tokens_per_s_low", "decode_tokens_per_s_high", "bound")
    return {key: out[key] for key in keys}


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _pair(c: Candidate | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "model": c.model_id,
        "parameters": c.parameters,
        "format": c.format_id,
        "bit_width": c.bit_width,
        "score": c.quality.score.value,
        "retention_used": _round(c.quality.retention_used, 6),
        "expected_quality": _round(c.quality.expected),
        "required": c.fit.required_bytes,
    }


def _largest_dict(p: BitWidthPick) -> dict[str, Any] | None:
    c = p.largest
    if c is None:
        return None
    limit = p.largest_context
    return {
        "model": c.model_id,
        "format": c.format_id,
        "engine": c.engine,
        "parameters": c.parameters,
        "required": c.fit.required_bytes,
        "max_context": None if limit is None else limit.value,
        "max_context_capped": None if limit is None else limit.capped,
        "ranked": c.ranked,
        "expected_quality": _round(c.quality.expected),
        "unranked_reason": c.quality.reason,
    }


def _spec_of(model_id: str) -> ModelSpec:
    """The spec of a catalog model or of a Hub model added to a comparison."""
    spec = _HUB_SPECS.get(model_id)
    if spec is not None:
        return spec
    entry = load_catalog().get(model_id)
    if entry is not None:
        return entry.spec()
    from planner.resolve import load_model

    return _keep_hub_spec(model_id, load_model(model_id, allow_local=False))


def _keep_hub_spec(model_id: str, spec: ModelSpec) -> ModelSpec:
    with _HUB_SPECS_LOCK:
        _HUB_SPECS[model_id] = spec
        _HUB_SPECS.move_to_end(model_id)
        while len(_HUB_SPECS) > HUB_SPECS_KEPT:
            _HUB_SPECS.popitem(last=False)
    return spec


@lru_cache(maxsize=ESTIMATE_CACHE_SIZE)
def _estimate(model_id: str, format_id: str, engine_id: str, settings: RunSettings) -> MemoryEstimate:
    """One memory estimate of a model (cached: it does not depend on the budget)."""
    return _make_estimate(model_id, format_id, engine_id, settings)


def _make_estimate(
    model_id: str, format_id: str, engine_id: str, settings: RunSettings, note: bool = True
) -> MemoryEstimate:
    spec, fmt = _spec_of(model_id), parse_format(format_id)  # one format object per id
    # a catalog model's weights: read back from disk, or kept for it (and noted for the file)
    catalog_store().weights(model_id, spec, fmt, note=note)
    return engine_estimate(spec, fmt, engine_id, settings)


class _Inputs:
    """A ranking's settings and budget as one cache key, hashed once (a budget's hash walks its devices)."""

    __slots__ = ("_hash", "budget", "settings")

    def __init__(self, settings: RunSettings, budget: Budget) -> None:
        self.settings, self.budget = settings, budget
        self._hash = hash((settings, budget))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _Inputs)
            and self._hash == other._hash
            and self.settings == other.settings
            and self.budget == other.budget
        )


@lru_cache(maxsize=ESTIMATE_CACHE_SIZE)
def _fit_and_speed(
    model_id: str, format_id: str, engine_id: str, inputs: _Inputs
) -> tuple[FitResult, SpeedEstimate | None]:
    """The fit of one estimate on the budget and its decode speed there (cached: a new sort or filter reuses them)."""
    est = _estimate(model_id, format_id, engine_id, inputs.settings)
    fit = fit_estimate(est, inputs.budget)
    return fit, (_speed(est, inputs.budget) if fit.fits else None)


def sorted_candidates(candidates: Iterable[Candidate], sort: str) -> tuple[Candidate, ...]:
    """``candidates`` ordered by ``sort``: ``quality`` (the ranking), ``speed`` (decode, unknown last) or ``headroom``."""
    items = list(candidates)
    if sort == "speed":
        items.sort(
            key=lambda c: (c.speed is None, -(c.speed.decode_tokens_per_s if c.speed else 0), _quality_key(c))
        )
    elif sort == "headroom":
        items.sort(key=lambda c: (-c.fit.headroom_bytes, _quality_key(c)))
    else:
        items.sort(key=_quality_key)
    return tuple(items)


def _quality_key(c: Candidate) -> tuple[Any, ...]:
    return _rank_key(c) if c.ranked else (float("inf"), *_unranked_key(c))


def _speed(est: MemoryEstimate, budget: Budget) -> SpeedEstimate | None:
    """Decode speed on the budget's catalog GPU (tensor parallel for vLLM, layer split otherwise)."""
    if budget.gpu is None:
        return None
    mode = "tensor" if est.engine == "vllm" else "layer"
    try:
        return estimate_speed(est, budget.gpu, budget.count, mode=mode)
    except PlannerError:
        return None


def _is_unranked(c: Candidate) -> bool:
    return not c.quality.ranked


def _rank_key(c: Candidate) -> tuple[Any, ...]:
    """Best first: expected quality, then decode speed (unknown last), then less GPU memory."""
    return _rank_values(c.quality, c.speed, c.fit, c.model_id, c.format_id)


def _rank_values(
    quality: ExpectedQuality, speed: SpeedEstimate | None, fit: FitResult, model_id: str, format_id: str
) -> tuple[Any, ...]:
    """:func:`_rank_key` of a candidate's fields."""
    tokens = speed.decode_tokens_per_s if speed is not None else -1.0
    return (-round(quality.expected, 9), -tokens, fit.required_bytes, model_id, format_id)


def _unranked_key(c: Candidate) -> tuple[Any, ...]:
    """Listed after the ranked ones: models with a published score first, then more bits."""
    score = c.quality.score.value if c.quality.score is not None else -1.0
    return (-score, -c.bits_per_weight, c.model_id, c.format_id)


def _assumptions(benchmark: str, budget: Budget) -> tuple[str, ...]:
    label = benchmark_label(benchmark)
    out = [
        f"expected quality = the model's published {label} score x the format's median published accuracy "
        "retention at the nearest measured model size (planner.quality.retention, data/quality/formats.json); "
        "retention was measured on other models and benchmarks and is assumed to carry over",
        "a format with no published accuracy but a published KL divergence is read off Unsloth's KLD-to-MMLU "
        "anchors (Gemma 3 27B) by linear interpolation between the two anchors around it; such retentions are "
        "approximate and marked '~'",
        "a published retention above 100% (benchmark noise) counts as 100%: no format is expected to beat its "
        "16-bit original; a model released in a format (gpt-oss MXFP4, DeepSeek-V3/R1 FP8 blocks) keeps 100% in it",
        "scores are as their publishers printed them (data/quality/models.json), else the Open LLM Leaderboard's "
        "(data/quality/leaderboard.json); some are the base checkpoint's or a third party's (see each note) and "
        "evaluation settings differ, so a difference of a few points is within noise",
        "pairs without a published score or without a published accuracy retention are listed after the ranked "
        "ones with the reason; no number is made up for them",
        "models whose max_position_embeddings is below the context asked are left out",
        "fit = the planner's memory estimate against each engine's allowance (llama.cpp keeps 1 GiB free, vLLM "
        "uses gpu_memory_utilization x total, transformers keeps no margin)",
    ]
    if benchmark == "mmlu-pro":
        out.append(
            "MMLU-Pro settings differ: publishers mostly print chain-of-thought figures, the leaderboard's 5-shot "
            "run without chain of thought reads several points lower for the same model (Qwen2.5-72B-Instruct: "
            "71.1 by Qwen, 56.25 on the leaderboard); each score's setting is in its evidence"
        )
    if budget.gpu is not None:
        out.append(
            f"ties broken by estimated decode speed (roofline estimate on the {budget.gpu.name}), then by less GPU memory"
        )
    else:
        out.append("no catalog GPU behind this budget, so no speed estimate: ties broken by less GPU memory")
    return tuple(out)


def _formats(
    engine: str | None, formats: Iterable[str] | None, widths: tuple[int, ...] = ()
) -> tuple[tuple[str, ...], list[str]]:
    """Format ids to try (parsed, deduplicated, of the ``widths`` asked) and notes on those left out."""
    wanted = list(formats) if formats is not None else list(representative_formats(engine))
    if not wanted:
        raise RecommendError("no formats to try: give at least one format id")
    out: list[str] = []
    notes: list[str] = []
    seen_widths: set[int] = set()
    for raw in wanted:
        fmt = parse_format(raw)
        if engine is not None and not get_engine(engine).loads(fmt):
            notes.append(f"{fmt.id} left out: {engine} does not load it")
            continue
        seen_widths.add(bit_width(fmt))
        if widths and bit_width(fmt) not in widths:
            continue
        if fmt.id not in out:
            out.append(fmt.id)
    if not out and widths:
        have = ", ".join(f"{w}-bit" for w in sorted(seen_widths, reverse=True))
        raise RecommendError(
            f"no format tried is {'/'.join(map(str, widths))}-bit; the formats tried cover {have}"
        )
    if not out:
        raise RecommendError(f"{engine} loads none of the formats given ({', '.join(wanted)})")
    return tuple(out), notes


def _native_formats(
    models: Iterable[ModelRef], engine: str | None, widths: tuple[int, ...]
) -> dict[str, tuple[str, ...]]:
    """Per model, the formats it is released in (tried next to the default ones when the engine loads them)."""
    out = {}
    for model in models:
        fids = []
        for fid in native_formats(model.id):
            fmt = parse_format(fid)
            if (engine is None or get_engine(engine).loads(fmt)) and (not widths or bit_width(fmt) in widths):
                fids.append(fmt.id)
        if fids:
            out[model.id] = tuple(fids)
    return out


def _tried(
    model_id: str, format_ids: tuple[str, ...], natives: dict[str, tuple[str, ...]]
) -> tuple[str, ...]:
    """The formats a ranking tries for ``model_id``: the chosen ones, then those it is released in."""
    return (*format_ids, *(f for f in natives.get(model_id, ()) if f not in format_ids))


def _models(extra: Iterable[str]) -> tuple[list[ModelRef], list[Exclusion], list[str]]:
    """The catalog's models plus the Hub ids ``extra`` (read through :func:`planner.resolve.load_model`).

    An id that cannot be read (not on the Hub, gated, offline, a bad config) is left out with the
    reason, never a crash; an id already in the catalog is the catalog's entry.
    """
    specs = catalog_store().specs  # read back from disk in a fresh process (planner.catalog_cache)
    refs = [ModelRef(e.id, e.family, e.license, specs[e.id], "catalog") for e in load_catalog().values()]
    excluded: list[Exclusion] = []
    added: list[str] = []
    seen = {r.id.lower() for r in refs}
    for raw in extra:
        model_id = raw.strip()
        if not model_id or model_id.lower() in seen:
            continue
        seen.add(model_id.lower())
        if find_entry(model_id) is not None:
            continue
        from planner.resolve import load_model  # the Hub client loads only when a Hub id is added

        try:
            spec = load_model(model_id, allow_local=False)
        except PlannerError as exc:
            excluded.append(Exclusion(model_id, f"could not be read from the Hub: {exc}"))
            continue
        _keep_hub_spec(model_id, spec)
        refs.append(ModelRef(model_id, spec.architecture, None, spec, "hub"))
        added.append(model_id)
    return refs, excluded, added


def prepare_catalog(benchmark: str = DEFAULT_BENCHMARK) -> int:
    """Make, once per process, what any ranking of the catalog reads whatever its budget and context: each
    (model, format) pair's estimate frame (weights report and placement, cache types, notes) and expected
    quality, for the formats a ranking with each format's own engine tries. Returns the pairs prepared.

    For a long-running server (``ui/start_up.py``): the first ranking after start-up, and the first at a
    context short enough to bring in models with a short ``max_position_embeddings``, then only compute
    what depends on the context. A pair the format or engine refuses is skipped, as the ranking skips it.
    """
    format_ids, _ = _formats(None, None)
    models, _, _ = _models(())
    natives = _native_formats(models, None, ())
    settings = RunSettings(context=1)  # any context: the frames do not depend on it
    done = 0
    for model in models:
        params_billion = model.spec.total_parameters / 1e9
        for fid in _tried(model.id, format_ids, natives):
            try:
                # not noted for the cache file: it keeps what rankings use, not every pair there is
                _make_estimate(model.id, fid, default_engine(parse_format(fid)).id, settings, note=False)
            except PlannerError:
                continue
            expected_quality(model.id, fid, params_billion, benchmark)
            done += 1
    return done


def recommend(
    budget: Budget,
    settings: RunSettings | None = None,
    engine: str | None = None,
    *,
    formats: Iterable[str] | None = None,
    filters: Filters | None = None,
    benchmark: str = DEFAULT_BENCHMARK,
    sort: str = "quality",
    extra_models: Iterable[str] = (),
    context_of_largest: bool = True,
) -> Recommendation:
    """Every (model, format) pair that fits ``budget`` at ``settings``, ranked by expected quality.

    ``engine`` ``None`` runs each format on its own engine (llama.cpp for GGUF types, else
    transformers); naming one keeps only formats it loads. ``formats`` defaults to the fit
    solvers' representative formats for the engine. ``benchmark`` is ``"mmlu-pro"`` (the default)
    or ``"mmlu"`` (5-shot): scores from different benchmarks are never mixed in one ranking.
    ``sort`` orders the listing (``quality``, ``speed`` or ``headroom``; the rank is always by
    quality). ``extra_models`` are Hub ids added to the catalog's models. ``context_of_largest``
    computes the longest context the largest model at each bit width leaves (a max-context search).
    """
    started = time.perf_counter()
    settings = settings or RunSettings()
    filters = filters or Filters()
    if benchmark not in BENCHMARKS:
        raise RecommendError(f"unknown benchmark '{benchmark:.40}'; valid: {', '.join(BENCHMARKS)}")
    if sort not in SORTS:
        raise RecommendError(f"unknown sort '{sort:.40}'; valid: {', '.join(SORTS)}")
    engine_id = get_engine(engine).id if engine else None
    format_ids, notes = _formats(engine_id, formats, filters.bit_widths)
    models, excluded, added = _models(extra_models)
    families = resolve_families(filters.families, tuple(m.family for m in models if m.source == "hub"))
    licenses = resolve_licenses(filters.licenses)
    natives = _native_formats(models, engine_id, filters.bit_widths) if formats is None else {}
    parsed = {fid: parse_format(fid) for fid in {*format_ids, *(f for fs in natives.values() for f in fs)}}
    engines = {fid: engine_id or default_engine(fmt).id for fid, fmt in parsed.items()}

    inputs = _Inputs(settings, budget)
    ranked: list[dict[str, Any]] = []  # the fields of each ranked candidate, until its rank is known
    unranked: list[Candidate] = []
    no_fit: list[str] = []
    for model in sorted(models, key=lambda m: (m.spec.total_parameters, m.id)):
        spec = model.spec
        reason = model_exclusion(
            model.family, model.license, spec, settings.context, filters, families, licenses
        )
        if reason is not None:
            excluded.append(Exclusion(model.id, reason))
            continue
        model_notes: tuple[str, ...] = ()
        if spec.max_position_embeddings is None:
            model_notes = ("the config states no max_position_embeddings: the context limit is not checked",)
        parameters, active = spec.total_parameters, spec.active_parameters
        params_billion = parameters / 1e9
        kinds: tuple[str, str] | None = None  # the model's modality and architecture, read once it fits
        fitted = False
        for fid in _tried(model.id, format_ids, natives):
            if cannot_fit(spec, parsed[fid], settings, budget):
                continue  # its weights alone are over the budget (no estimate needed: planner.recommend.prune)
            try:
                fit, speed = _fit_and_speed(model.id, fid, engines[fid], inputs)
            except PlannerError:
                continue  # the format or engine refuses this model (as the fit command leaves it out)
            if not fit.fits:
                continue
            est = fit.estimate
            fitted = True
            kinds = kinds or (modality(spec), architecture(spec))
            quality = expected_quality(model.id, fid, params_billion, benchmark)
            fields = {
                "model_id": model.id,
                "family": model.family,
                "license": model.license,
                "parameters": parameters,
                "active_parameters": active,
                "max_position_embeddings": spec.max_position_embeddings,
                "format_id": fid,
                "engine": est.engine,
                "bit_width": bit_width(parsed[fid]),
                "bits_per_weight": est.weights_report.bits_per_weight,
                "fit": fit,
                "quality": quality,
                "speed": speed,
                "notes": model_notes,
                "modality": kinds[0],
                "architecture": kinds[1],
                "source": model.source,
            }
            if quality.ranked:  # made once its rank is known
                ranked.append(fields)
            else:
                unranked.append(Candidate(**fields))
        if not fitted:
            no_fit.append(model.id)

    ranked.sort(key=lambda f: _rank_values(f["quality"], f["speed"], f["fit"], f["model_id"], f["format_id"]))
    unranked.sort(key=_unranked_key)
    ordered = tuple([Candidate(**f, rank=i) for i, f in enumerate(ranked, start=1)] + unranked)
    if natives:
        tried = "; ".join(f"{m}: {', '.join(f)}" for m, f in sorted(natives.items()))
        notes.append(f"also tried, in the format each model is released in: {tried}")
    label = benchmark_label(benchmark)
    widths = sorted({*BIT_WIDTHS, *(bit_width(f) for f in parsed.values())}, reverse=True)
    if filters.bit_widths:
        widths = [w for w in widths if w in filters.bit_widths]
    picks = best_per_bit_width(ordered, widths, {bit_width(f) for f in parsed.values()})
    if context_of_largest:
        picks = tuple(replace(p, largest_context=_context_left(p.largest, settings, budget)) for p in picks)
    tried_widths = {bit_width(f) for f in parsed.values()}
    trade_offs = tuple(
        larger_at_fewer_bits(ordered, label, high, low)
        if {high, low} <= tried_widths
        else TradeOff(
            None,
            None,
            None,
            f"{high}-bit vs {low}-bit not compared: no format of that width was tried.",
            high,
            low,
        )
        for high, low in TRADE_OFF_WIDTHS
    )
    catalog_store().flush()  # new weights reports to disk for the next process (best effort)
    return Recommendation(
        budget=budget,
        settings=settings,
        engine=engine_id,
        benchmark=benchmark,
        formats=format_ids,
        filters=filters,
        candidates=ordered,
        excluded=tuple(excluded),
        no_fit=tuple(no_fit),
        by_bit_width=picks,
        trade_off=trade_offs[0],
        assumptions=_assumptions(benchmark, budget),
        notes=(*budget.notes, *notes),
        elapsed_s=time.perf_counter() - started,
        sort=sort,
        pareto=pareto_front(ordered),
        trade_offs=trade_offs,
        extra_models=tuple(added),
    )


def _context_left(c: Candidate | None, settings: RunSettings, budget: Budget) -> Limit | None:
    """The longest context ``c`` fits with on ``budget`` (same engine, batch and cache settings)."""
    if c is None:
        return None
    # The search sets the context itself: the answer does not depend on the context asked, so one key serves all.
    return _max_context(c.model_id, c.format_id, c.engine, replace(settings, context=DEFAULT_CONTEXT), budget)


@lru_cache(maxsize=256)
def _max_context(
    model_id: str, format_id: str, engine: str, settings: RunSettings, budget: Budget
) -> Limit | None:
    """:func:`planner.fit.max_context`, cached per (model, format, engine, settings, budget): a binary search."""
    try:
        return max_context(_spec_of(model_id), parse_format(format_id), engine, settings, budget)
    except PlannerError:
        return None


__all__ = [
    "SORTS",
    "Candidate",
    "Exclusion",
    "ModelRef",
    "Recommendation",
    "prepare_catalog",
    "recommend",
    "sorted_candidates",
]
