"""Published quality figures, read and validated in one place.

``data/quality/formats.json`` holds what each quantized format is *measured* to lose against its
16-bit original (one row per printed figure, each with its table and quoted cells);
``data/quality/models.json`` holds the publishers' benchmark scores per model (every catalog model
has an entry; other Hub ids may have one) and ``data/quality/leaderboard.json`` the Open LLM
Leaderboard's (transcribed by ``scripts/quality/transcribe_leaderboard.py``). A bad row fails here
(and so in the tests), never on a user's page.

:func:`retention` turns the format rows into one answer for a format and a model size, by a rule
kept simple on purpose (see its docstring): published accuracy first, else a published KL
divergence read through the cited KLD-to-accuracy anchors (:class:`KldTranslation`), never a
figure made up where neither is published.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from functools import cache
from itertools import pairwise
from pathlib import Path
from statistics import median
from typing import Any

from planner.catalog import DATA_DIR, load_catalog
from planner.errors import PlannerError
from planner.formats import UnknownFormatError, parse_format
from planner.frozen import record
from planner.memo import per_object

QUALITY_DIR = DATA_DIR / "quality"
FORMATS_FILE = QUALITY_DIR / "formats.json"
MODELS_FILE = QUALITY_DIR / "models.json"
LEADERBOARD_FILE = QUALITY_DIR / "leaderboard.json"

ACCURACY = "accuracy_retention"
METRICS = frozenset({ACCURACY, "ppl", "ppl_delta", "ppl_delta_pct", "ppl_ratio", "kld", "top1_agreement"})
#: Rows whose size is within this factor of the nearest measured size share its size class.
SIZE_CLASS_FACTOR = 1.25
#: A printed retention may differ from its two printed scores by rounding, in percentage points.
ROUNDING_PP = 0.05
#: Sane ranges per metric (outside them a row is a typo, not a measurement).
_RANGES = {
    ACCURACY: (0.0, 130.0),
    "ppl": (1.0, 1000.0),
    "ppl_delta": (-1.0, 100.0),
    "ppl_delta_pct": (-5.0, 1000.0),
    "ppl_ratio": (0.9, 20.0),
    "kld": (0.0, 10.0),
    "top1_agreement": (0.0, 100.0),
}
_ROW_KEYS = frozenset(
    {"format", "family", "bits", "method", "metric", "benchmark", "model", "params_billion", "value", "baseline",
     "source", "where", "quote", "baseline_value", "score", "baseline_score", "active_params_billion", "note"}
)  # fmt: skip
_PARAMETRIC = re.compile(r"(exl[23])-(\d+(?:\.\d+)?)")
_URL = re.compile(r"https?://\S+")
_HUB_ID = re.compile(r"(?:[A-Za-z0-9][\w.-]*/)?[A-Za-z0-9][\w.-]*")


class QualityDataError(PlannerError):
    """A quality data file is malformed (a bug in ``data/quality``, caught by the tests)."""


@record
class Source:
    """Where figures were published: a followable URL and what the publication is."""

    id: str
    title: str
    url: str
    note: str | None = None


@record
class FormatQuality:
    """One published figure: a format's loss on one model, from one table.

    ``format`` is the planner's format id, or ``None`` where the measured scheme has none (AWQ at
    3 bits). ``value`` is in the unit of ``metric`` (percent for ``accuracy_retention``);
    ``score``/``baseline_score`` are the printed benchmark scores a retention was computed from,
    and ``baseline_value`` the 16-bit figure next to a printed perplexity.
    """

    format: str | None
    family: str
    bits: float
    method: str
    metric: str
    benchmark: str
    model: str
    params_billion: float
    value: float
    baseline: str
    source: Source
    where: str
    quote: str
    baseline_value: float | None = None
    score: float | None = None
    baseline_score: float | None = None
    active_params_billion: float | None = None
    note: str | None = None

    @property
    def fraction(self) -> float | None:
        """Share of the 16-bit accuracy kept (1.0 = none lost), for accuracy rows only."""
        return self.value / 100.0 if self.metric == ACCURACY else None


@record
class Marker:
    """A statement about a format that is not a figure: a fallback, a native release, or 'none'."""

    format: str
    text: str
    source: Source | None = None
    uses: str | None = None
    models: tuple[str, ...] = ()


@record
class KldAnchor:
    """One quant whose KL divergence and benchmark score were both published (same files, same model)."""

    label: str
    kld: float
    score: float
    retention: float
    quote: str


@record
class KldTranslation:
    """How a published KL divergence becomes an expected accuracy retention (``formats.json`` ``kld_translation``).

    Piecewise-linear between the two anchors whose KLD brackets the one asked (the 16-bit model is
    the anchor at KLD 0, retention 1); the answer's range is those two anchors' retentions. A KLD
    beyond the last anchor has no answer (never extrapolated). ``justification`` is the cited reason
    the reading is monotone (more divergence, more flipped answers).
    """

    source: Source
    justification: Source
    model: str
    params_billion: float
    benchmark: str
    baseline_score: float
    where: str
    anchors: tuple[KldAnchor, ...]

    def translate(self, kld: float) -> tuple[float, float, float, str] | None:
        """``(retention, low, high, how)`` for a mean KLD, or ``None`` past the last anchor."""
        points = [(0.0, 1.0, "16-bit")] + [(a.kld, a.retention, a.label) for a in self.anchors]
        for (k0, r0, l0), (k1, r1, l1) in pairwise(points):
            if k0 <= kld <= k1:
                value = r0 + (r1 - r0) * (kld - k0) / (k1 - k0)
                how = (
                    f"KLD {kld:g} lies between {l0} (KLD {k0:g}, {100 * r0:.2f}%) and {l1} (KLD {k1:g}, "
                    f"{100 * r1:.2f}%) on {self.model}: {100 * value:.2f}% by linear interpolation"
                )
                return value, min(r0, r1), max(r0, r1), how
        return None


@record
class FormatQualityTable:
    """``formats.json``: the figures plus what is known about formats that have none."""

    rows: tuple[FormatQuality, ...]
    sources: dict[str, Source]
    baselines: dict[str, Marker]
    fallbacks: dict[str, Marker]
    native: dict[str, Marker]
    none: dict[str, Marker]
    kld: KldTranslation | None = None

    def rows_for(self, format_id: str) -> tuple[FormatQuality, ...]:
        """Rows measured on ``format_id`` (parametric ids match rows at the same bpw, within 0.05)."""
        return _rows_for(self, _canonical(format_id))

    def rows_at_or_below(self, format_id: str) -> tuple[tuple[FormatQuality, ...], float | None]:
        """For an EXL2/EXL3 id with no rows at its bpw: the rows at the highest measured bpw below it.

        A lower bitrate of the same format keeps no more accuracy, so this errs on the safe side.
        Returns ``((), None)`` for other ids or when nothing lower was measured.
        """
        parametric = _PARAMETRIC.fullmatch(_canonical(format_id))
        if not parametric:
            return (), None
        family, bpw = parametric.group(1), float(parametric.group(2))
        lower = sorted({r.bits for r in self.rows if r.family == family and r.bits < bpw - 0.05})
        if not lower:
            return (), None
        return tuple(r for r in self.rows if r.family == family and r.bits == lower[-1]), lower[-1]

    def marker_none(self, format_id: str) -> Marker | None:
        """The explicit 'no published measurement' marker for ``format_id`` (or its family)."""
        key = _canonical(format_id)
        parametric = _PARAMETRIC.fullmatch(key)
        return self.none.get(key) or (self.none.get(parametric.group(1)) if parametric else None)


@record
class BenchmarkScore:
    """One published score of one checkpoint, with the exact setting it was run in."""

    benchmark: str
    value: float
    shots: int | None
    setting: str
    checkpoint: str
    source: str
    where: str
    quote: str


@record
class ModelScore:
    """A model's published MMLU (5-shot) and MMLU-Pro, by its publisher and by the leaderboard; any may be missing.

    ``other`` keeps MMLU figures published in another setting (0-shot CoT, Pass@1), which are not
    comparable with the 5-shot column.

    ``checkpoint`` on a score may name a sibling of the catalog entry (the base model of an
    instruct entry) when that is all the publisher printed; ``note`` then says so.
    """

    model_id: str
    mmlu_5shot: BenchmarkScore | None
    mmlu_pro: BenchmarkScore | None
    other: tuple[BenchmarkScore, ...] = ()
    note: str | None = None
    mmlu_5shot_leaderboard: BenchmarkScore | None = None
    mmlu_pro_leaderboard: BenchmarkScore | None = None

    def best(self, benchmark: str) -> BenchmarkScore | None:
        """The score to rank by on ``benchmark`` (``"mmlu_5shot"`` or ``"mmlu_pro"``).

        The publisher's own figure first (the models' own tables); the Open LLM Leaderboard's
        where the publisher printed none.
        """
        return getattr(self, benchmark) or getattr(self, f"{benchmark}_leaderboard")


@record
class Retention:
    """How much of the 16-bit accuracy a format keeps at a model size, and on what evidence.

    ``value`` is the median retention fraction (1.0 = no loss) over accuracy rows in ``size_class``;
    ``low``/``high`` their range. ``basis`` is ``accuracy``, ``kld`` (no accuracy is published: the
    format's published KL divergence, in ``evidence``, read through ``translation``), ``perplexity``
    (only perplexity, or a KLD past the translation's anchors: ``value`` is None), ``baseline`` (a
    16-bit format) or ``none``.
    """

    format_id: str
    value: float | None
    low: float | None
    high: float | None
    evidence: tuple[FormatQuality, ...]
    size_class: str | None
    basis: str
    note: str
    translation: KldTranslation | None = None


def _canonical(format_id: str) -> str:
    key = format_id.strip().lower()
    parametric = _PARAMETRIC.fullmatch(key)
    return f"{parametric.group(1)}-{float(parametric.group(2)):.1f}" if parametric else key


def _require(row: dict[str, Any], key: str, kinds: type | tuple[type, ...], where: str) -> Any:
    value = row.get(key)
    if not isinstance(value, kinds) or isinstance(value, bool):
        raise QualityDataError(f"{where}: '{key}' is missing or of the wrong type")
    if isinstance(value, str) and not value.strip():
        raise QualityDataError(f"{where}: '{key}' is empty")
    return value


def _optional(row: dict[str, Any], key: str, kinds: type | tuple[type, ...], where: str) -> Any:
    return None if row.get(key) is None else _require(row, key, kinds, where)


def _source(key: str, raw: Any) -> Source:
    where = f"sources.{key}"
    if not isinstance(raw, dict):
        raise QualityDataError(f"{where}: must be an object")
    url = _require(raw, "url", str, where)
    if not _URL.fullmatch(url):
        raise QualityDataError(f"{where}: 'url' must be an http(s) URL")
    return Source(key, _require(raw, "title", str, where), url, _optional(raw, "note", str, where))


def _row(index: int, raw: Any, sources: dict[str, Source]) -> FormatQuality:
    where = f"rows[{index}]"
    if not isinstance(raw, dict):
        raise QualityDataError(f"{where}: must be an object")
    unknown = set(raw) - _ROW_KEYS
    if unknown:
        raise QualityDataError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    metric = _require(raw, "metric", str, where)
    if metric not in METRICS:
        raise QualityDataError(f"{where}: unknown metric '{metric}'")
    source_id = _require(raw, "source", str, where)
    if source_id not in sources:
        raise QualityDataError(f"{where}: source '{source_id}' is not in 'sources'")
    number = (int, float)
    row = FormatQuality(
        format=_optional(raw, "format", str, where),
        family=_require(raw, "family", str, where),
        bits=float(_require(raw, "bits", number, where)),
        method=_require(raw, "method", str, where),
        metric=metric,
        benchmark=_require(raw, "benchmark", str, where),
        model=_require(raw, "model", str, where),
        params_billion=float(_require(raw, "params_billion", number, where)),
        value=float(_require(raw, "value", number, where)),
        baseline=_require(raw, "baseline", str, where),
        source=sources[source_id],
        where=_require(raw, "where", str, where),
        quote=_require(raw, "quote", str, where),
        baseline_value=_optional(raw, "baseline_value", number, where),
        score=_optional(raw, "score", number, where),
        baseline_score=_optional(raw, "baseline_score", number, where),
        active_params_billion=_optional(raw, "active_params_billion", number, where),
        note=_optional(raw, "note", str, where),
    )
    low, high = _RANGES[metric]
    if not low <= row.value <= high:
        raise QualityDataError(f"{where}: {metric} {row.value} is outside [{low}, {high}]")
    if row.params_billion <= 0 or not 1 <= row.bits <= 16:
        raise QualityDataError(f"{where}: params_billion must be positive and bits within 1..16")
    if row.format is not None:
        try:
            parse_format(row.format)
        except UnknownFormatError:
            raise QualityDataError(f"{where}: '{row.format}' is not a planner format id") from None
    if (row.score is None) != (row.baseline_score is None):
        raise QualityDataError(f"{where}: 'score' and 'baseline_score' go together")
    if row.score is not None:
        if metric != ACCURACY or row.baseline_score <= 0:
            raise QualityDataError(
                f"{where}: scores belong to accuracy_retention rows with a positive baseline"
            )
        if abs(100.0 * row.score / row.baseline_score - row.value) > ROUNDING_PP:
            raise QualityDataError(f"{where}: value {row.value} is not score / baseline_score")
    if metric == "ppl" and row.baseline_value is None:
        raise QualityDataError(f"{where}: a 'ppl' row needs the 16-bit 'baseline_value' from the same table")
    return row


def _marker(section: str, raw: Any, sources: dict[str, Source], text_key: str) -> Marker:
    where = f"{section}[{raw.get('format') if isinstance(raw, dict) else '?'}]"
    if not isinstance(raw, dict):
        raise QualityDataError(f"{section}: entries must be objects")
    source_id = _optional(raw, "source", str, where)
    if source_id is not None and source_id not in sources:
        raise QualityDataError(f"{where}: source '{source_id}' is not in 'sources'")
    models = raw.get("models", [])
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        raise QualityDataError(f"{where}: 'models' must be a list of ids")
    return Marker(
        format=_require(raw, "format", str, where),
        text=_require(raw, text_key, str, where),
        source=sources[source_id] if source_id else None,
        uses=_optional(raw, "uses", str, where),
        models=tuple(models),
    )


def parse_format_quality(data: Any) -> FormatQualityTable:
    """Validate the contents of ``formats.json`` (split out so tests can feed it bad rows)."""
    if not isinstance(data, dict):
        raise QualityDataError("formats.json: must hold a JSON object")
    raw_sources = data.get("sources")
    if not isinstance(raw_sources, dict) or not raw_sources:
        raise QualityDataError("formats.json: 'sources' must be a non-empty object")
    sources = {key: _source(key, raw) for key, raw in raw_sources.items()}
    raw_rows = data.get("rows")
    if not isinstance(raw_rows, list) or not raw_rows:
        raise QualityDataError("formats.json: 'rows' must be a non-empty list")
    rows = tuple(_row(i, raw, sources) for i, raw in enumerate(raw_rows))
    sections = {"baselines": "reason", "fallbacks": "assumption", "native": "statement", "none": "reason"}
    markers: dict[str, dict[str, Marker]] = {}
    for section, text_key in sections.items():
        raw = data.get(section, [])
        if not isinstance(raw, list):
            raise QualityDataError(f"formats.json: '{section}' must be a list")
        markers[section] = {m.format: m for m in (_marker(section, r, sources, text_key) for r in raw)}
    for marker in markers["fallbacks"].values():
        if marker.uses is None or not any(r.format == marker.uses for r in rows):
            raise QualityDataError(f"fallbacks[{marker.format}]: 'uses' must name a format that has rows")
    for marker in markers["none"].values():
        if marker.source is None:
            raise QualityDataError(f"none[{marker.format}]: say where it was looked for ('source')")
    kld = _kld_translation(data.get("kld_translation"), sources)
    return FormatQualityTable(
        rows, sources, markers["baselines"], markers["fallbacks"], markers["native"], markers["none"], kld
    )


def _kld_translation(raw: Any, sources: dict[str, Source]) -> KldTranslation | None:
    if raw is None:
        return None
    where = "kld_translation"
    if not isinstance(raw, dict):
        raise QualityDataError(f"{where}: must be an object")
    picked = {}
    for key in ("source", "justification"):
        source_id = _require(raw, key, str, where)
        if source_id not in sources:
            raise QualityDataError(f"{where}: {key} '{source_id}' is not in 'sources'")
        picked[key] = sources[source_id]
    baseline = float(_require(raw, "baseline_score", (int, float), where))
    anchors = []
    for i, item in enumerate(_require(raw, "anchors", list, where)):
        at = f"{where}.anchors[{i}]"
        if not isinstance(item, dict):
            raise QualityDataError(f"{at}: must be an object")
        score = float(_require(item, "score", (int, float), at))
        anchors.append(
            KldAnchor(
                label=_require(item, "label", str, at),
                kld=float(_require(item, "kld", (int, float), at)),
                score=score,
                retention=score / baseline,
                quote=_require(item, "quote", str, at),
            )
        )
    klds = [a.kld for a in anchors]
    if not anchors or klds[0] <= 0 or any(b <= a for a, b in pairwise(klds)):
        raise QualityDataError(f"{where}: anchors must have positive, strictly increasing KLD")
    return KldTranslation(
        source=picked["source"],
        justification=picked["justification"],
        model=_require(raw, "model", str, where),
        params_billion=float(_require(raw, "params_billion", (int, float), where)),
        benchmark=_require(raw, "benchmark", str, where),
        baseline_score=baseline,
        where=_require(raw, "where", str, where),
        anchors=tuple(anchors),
    )


@cache
def load_format_quality() -> FormatQualityTable:
    """The shipped format quality table, validated."""
    return parse_format_quality(_read(FORMATS_FILE))


def _score(raw: Any, where: str) -> BenchmarkScore | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise QualityDataError(f"{where}: must be an object or null")
    value = float(_require(raw, "value", (int, float), where))
    if not 0 < value <= 100:
        raise QualityDataError(f"{where}: a benchmark score is a percentage in (0, 100]")
    source = _require(raw, "source", str, where)
    if not _URL.fullmatch(source):
        raise QualityDataError(f"{where}: 'source' must be an http(s) URL")
    shots = raw.get("shots")
    if shots is not None and (not isinstance(shots, int) or isinstance(shots, bool) or shots < 0):
        raise QualityDataError(f"{where}: 'shots' must be a non-negative integer or null")
    return BenchmarkScore(
        benchmark=_require(raw, "benchmark", str, where),
        value=value,
        shots=shots,
        setting=_require(raw, "setting", str, where),
        checkpoint=_require(raw, "checkpoint", str, where),
        source=source,
        where=_require(raw, "where", str, where),
        quote=_require(raw, "quote", str, where),
    )


def parse_model_scores(data: Any, catalog_ids: frozenset[str] = frozenset()) -> dict[str, ModelScore]:
    """Validate the contents of ``models.json``: keys are Hugging Face ids (catalog or not)."""
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, dict):
        raise QualityDataError("models.json: must hold an object with a 'models' object")
    malformed = [m for m in models if m not in catalog_ids and not _HUB_ID.fullmatch(m)]
    if malformed:
        raise QualityDataError(
            f"models.json: not a Hugging Face id (owner/name): {', '.join(sorted(malformed))}"
        )
    out = {}
    for model_id, raw in models.items():
        if not isinstance(raw, dict) or not {"mmlu_5shot", "mmlu_pro"} <= set(raw):
            raise QualityDataError(
                f"models.{model_id}: needs 'mmlu_5shot' and 'mmlu_pro' (null where unpublished)"
            )
        other = raw.get("other", [])
        if not isinstance(other, list):
            raise QualityDataError(f"models.{model_id}.other: must be a list")
        entry = ModelScore(
            model_id=model_id,
            mmlu_5shot=_score(raw["mmlu_5shot"], f"models.{model_id}.mmlu_5shot"),
            mmlu_pro=_score(raw["mmlu_pro"], f"models.{model_id}.mmlu_pro"),
            other=tuple(_score(o, f"models.{model_id}.other[{i}]") for i, o in enumerate(other)),
            note=_optional(raw, "note", str, f"models.{model_id}"),
        )
        if entry.mmlu_5shot is not None and entry.mmlu_5shot.shots != 5:
            raise QualityDataError(f"models.{model_id}.mmlu_5shot: must be a 5-shot score")
        scores = [s for s in (entry.mmlu_5shot, entry.mmlu_pro, *entry.other) if s is not None]
        if entry.note is None and (not scores or any(s.checkpoint != model_id for s in scores)):
            raise QualityDataError(
                f"models.{model_id}: a missing score or another checkpoint's score needs a 'note'"
            )
        out[model_id] = entry
    return out


def parse_leaderboard(data: Any) -> dict[str, dict[str, BenchmarkScore]]:
    """Validate ``leaderboard.json``: per Hub id, the leaderboard's MMLU-Pro (v2) and MMLU (v1) as scores."""
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        raise QualityDataError("leaderboard.json: must hold an object with a 'models' object")
    sources = data.get("sources")
    if not isinstance(sources, dict) or not {"v1", "v2"} <= set(sources):
        raise QualityDataError("leaderboard.json: 'sources' must describe 'v1' and 'v2'")
    settings = {
        "mmlu_pro": (
            "v2",
            "MMLU-Pro",
            "Open LLM Leaderboard v2: 5-shot, lm-evaluation-harness, raw accuracy",
        ),
        "mmlu_5shot": ("v1", "MMLU", "Open LLM Leaderboard v1: 5-shot, lm-evaluation-harness"),
    }
    out: dict[str, dict[str, BenchmarkScore]] = {}
    for model_id, raw in data["models"].items():
        where = f"leaderboard.{model_id}"
        if not _HUB_ID.fullmatch(model_id) or not isinstance(raw, dict):
            raise QualityDataError(f"{where}: keys are Hugging Face ids and values objects")
        entry = {}
        for key, (version, benchmark, setting) in settings.items():
            if key not in raw:
                continue
            row = raw[key]
            at = f"{where}.{key}"
            value = float(_require(row, "value", (int, float), at))
            if not 0 < value <= 100:
                raise QualityDataError(f"{at}: a benchmark score is a percentage in (0, 100]")
            source = sources[version]
            extra = f"; normalised score on the page {row['normalized']:g}" if "normalized" in row else ""
            entry[key] = BenchmarkScore(
                benchmark=benchmark,
                value=value,
                shots=5,
                setting=f"{setting} ({_require(row, 'precision', str, at)} run)",
                checkpoint=model_id,
                source=_require(source, "url", str, f"leaderboard.sources.{version}"),
                where=f"row {_require(row, 'row', str, at)} of {source['transcribed_from']}",
                quote=f"{benchmark} {value:g}{extra}",
            )
        out[model_id] = entry
    return out


@cache
def load_leaderboard() -> dict[str, dict[str, BenchmarkScore]]:
    """The shipped leaderboard transcription, validated, by Hub id."""
    return parse_leaderboard(_read(LEADERBOARD_FILE))


#: The note of a catalog model that has no entry in models.json yet.
NO_ENTRY = "no entry in data/quality/models.json yet: no publisher's score recorded for this catalog model"


@cache
def load_model_scores() -> dict[str, ModelScore]:
    """Published scores by Hub id: every catalog model has an entry (scores may be None), other ids may.

    A catalog model missing from ``models.json`` gets an entry without scores (its note says so), so a
    new catalog model is listed unranked with the reason instead of breaking every ranking.

    The publisher's figures (``models.json``) and the leaderboard's (``leaderboard.json``) are merged
    per id; an id with leaderboard scores only gets an entry holding just those.
    """
    catalog_ids = frozenset(load_catalog())
    scores = parse_model_scores(_read(MODELS_FILE), catalog_ids)
    for model_id in catalog_ids - set(scores):  # a catalog model added before its scores: listed, unranked
        scores[model_id] = ModelScore(model_id, None, None, note=NO_ENTRY)
    board = load_leaderboard()
    by_lower = {k.lower(): k for k in scores}
    for model_id, entry in board.items():
        key = by_lower.get(model_id.lower())
        extra = {f"{name}_leaderboard": score for name, score in entry.items()}
        if key is None:
            scores[model_id] = ModelScore(model_id, None, None, **extra)
        else:
            scores[key] = replace(scores[key], **extra)
    return scores


#: Organisations renamed on the Hub (the Hub redirects the old name): new prefix -> the old one a source uses.
RENAMED_ORGS = {"coherelabs/": "cohereforai/"}


def model_score(model_id: str) -> ModelScore | None:
    """The published scores of ``model_id`` (a Hub id, matched without regard to case), or ``None``.

    An id under a renamed organisation also finds scores published under the old name
    (CohereLabs was CohereForAI when the Open LLM Leaderboard ran).
    """
    scores = load_model_scores()
    if model_id in scores:
        return scores[model_id]
    lowered = model_id.lower()
    found = next((s for k, s in scores.items() if k.lower() == lowered), None)
    for new, old in RENAMED_ORGS.items():
        if found is None and lowered.startswith(new):
            found = model_score(old + model_id[len(new) :])
    return found


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise QualityDataError(f"{path.name}: unreadable ({exc})") from None


@per_object()
def _rows_for(table: FormatQualityTable, key: str) -> tuple[FormatQuality, ...]:
    """:meth:`FormatQualityTable.rows_for` of a canonical id (remembered per table: a ranking asks per pair)."""
    parametric = _PARAMETRIC.fullmatch(key)
    if parametric:
        family, bpw = parametric.group(1), float(parametric.group(2))
        return tuple(r for r in table.rows if r.family == family and abs(r.bits - bpw) <= 0.05)
    return tuple(r for r in table.rows if r.format == key)


def _nearest_size_class(rows: tuple[FormatQuality, ...], params_billion: float) -> tuple[FormatQuality, ...]:
    distance = [abs(math.log(r.params_billion / params_billion)) for r in rows]
    limit = min(distance) + math.log(SIZE_CLASS_FACTOR)
    return tuple(r for r, d in zip(rows, distance, strict=True) if d <= limit)


def _size_label(rows: tuple[FormatQuality, ...]) -> str:
    sizes = sorted({r.params_billion for r in rows})
    return f"{sizes[0]:g}B" if len(sizes) == 1 else f"{sizes[0]:g}B-{sizes[-1]:g}B"


def retention(format_id: str, params_billion: float) -> Retention:
    """Share of 16-bit accuracy ``format_id`` keeps on a model of ``params_billion`` (total) parameters.

    The rule, in order:

    1. the format's published accuracy-retention rows (an EXL2/EXL3 bitrate with none uses the
       highest measured bitrate below it; a format with no accuracy rows uses a declared
       fallback's, saying so); keep the rows measured at the size nearest to ``params_billion`` on
       a log scale, plus any within 25% of that size; report their median as ``value`` and their
       range as ``low``/``high``;
    2. else its published mean KL divergence (rows nearest in size, as above), each read through
       the cited KLD-to-accuracy anchors (:meth:`KldTranslation.translate`): the median, with the
       bracketing anchors' range;
    3. else no value: the perplexity rows as evidence, or "no published measurement".

    Retentions above 1.0 are kept as measured (benchmark noise), not clipped.
    """
    if not params_billion > 0:
        raise ValueError("params_billion must be positive")
    parse_format(format_id)  # unknown ids fail as everywhere else in the planner
    table = load_format_quality()
    key = _canonical(format_id)
    if key in table.baselines:
        return Retention(key, 1.0, 1.0, 1.0, table.rows_for(key), None, "baseline", table.baselines[key].text)
    rows, notes = table.rows_for(key), []
    if not rows:
        rows, lower = table.rows_at_or_below(key)
        if rows:
            notes.append(
                f"Nothing is published at {key}; the figures at {lower:g} bpw, the highest measured bitrate "
                "below it, are used (a lower bitrate keeps no more accuracy)."
            )
    accuracy = tuple(r for r in rows if r.metric == ACCURACY)
    if not accuracy and key in table.fallbacks:
        fallback = table.fallbacks[key]
        accuracy = tuple(r for r in table.rows_for(fallback.uses) if r.metric == ACCURACY)
        notes.append(f"Assumed from {fallback.uses}: {fallback.text}")
    if key in table.native:
        notes.append(table.native[key].text)
    if accuracy:
        chosen = _nearest_size_class(accuracy, params_billion)
        fractions = [r.fraction for r in chosen]
        notes.append(
            f"Median of {len(chosen)} published accuracy-retention figure(s) measured at {_size_label(chosen)} "
            f"(nearest published size to {params_billion:g}B)."
        )
        return Retention(
            key, median(fractions), min(fractions), max(fractions), chosen, _size_label(chosen), "accuracy",
            " ".join(notes),
        )  # fmt: skip
    kld_rows = tuple(r for r in rows if r.metric == "kld")
    if kld_rows and table.kld is not None:
        chosen = _nearest_size_class(kld_rows, params_billion)
        read = [(r, table.kld.translate(r.value)) for r in chosen]
        good = [(r, t) for r, t in read if t is not None]
        if good:
            notes.append(
                "No published accuracy: translated from the published KL divergence through the KLD-to-accuracy "
                f"anchors of {table.kld.source.title} ({table.kld.model}). "
                + "; ".join(f"{r.model}: {t[3]}" for r, t in good)
                + "."
            )
            return Retention(
                key,
                median(t[0] for _, t in good),
                min(t[1] for _, t in good),
                max(t[2] for _, t in good),
                tuple(r for r, _ in good),
                _size_label(tuple(r for r, _ in good)),
                "kld",
                " ".join(notes),
                table.kld,
            )
        last = table.kld.anchors[-1]
        notes.append(
            f"Its published KLD ({', '.join(f'{r.value:g}' for r in chosen)}) lies beyond the last "
            f"KLD-to-accuracy anchor ({last.label}, KLD {last.kld:g}); not extrapolated."
        )
    if rows:
        chosen = _nearest_size_class(rows, params_billion)
        notes.append("No published accuracy measurement; only perplexity/KLD, carried in 'evidence'.")
        return Retention(key, None, None, None, chosen, _size_label(chosen), "perplexity", " ".join(notes))
    marker = table.marker_none(key)
    reason = marker.text if marker else "No published measurement."
    return Retention(key, None, None, None, (), None, "none", " ".join([*notes, reason]))
