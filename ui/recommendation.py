"""The What can I run page's ranking, computed once per set of inputs so a rerun only redraws.

:func:`planner.recommend.recommend` does the work; this edge keeps the last answers keyed by the
inputs (all frozen, hashable values), so moving a slider back, switching pages or redrawing costs
no new ranking. Hub models read for a comparison are kept by the core as well.
"""

from __future__ import annotations

from functools import lru_cache

from planner.fit import Budget
from planner.memory.estimate import RunSettings
from planner.recommend import Filters, Recommendation, recommend

#: Answers kept: a few budgets x contexts x filter settings.
CACHED_ANSWERS = 32


@lru_cache(maxsize=CACHED_ANSWERS)
def cached_recommendation(
    budget: Budget,
    settings: RunSettings,
    engine: str | None,
    filters: Filters,
    benchmark: str,
    sort: str,
    extra_models: tuple[str, ...],
) -> Recommendation:
    """:func:`planner.recommend.recommend` for these inputs, computed once (errors are raised, not kept)."""
    return recommend(
        budget, settings, engine, filters=filters, benchmark=benchmark, sort=sort, extra_models=extra_models
    )


#: The chart of each cached answer, by the answer's identity (an answer object is reused while cached).
_FIGURES: dict[int, tuple[Recommendation, object]] = {}


def cached_figure(result: Recommendation):
    """:func:`ui.charts.quality_memory_figure` of ``result``, built once per answer (plotly figures are slow to build)."""
    from ui.charts import quality_memory_figure

    kept = _FIGURES.get(id(result))
    if kept is None or kept[0] is not result:
        if len(_FIGURES) >= CACHED_ANSWERS:
            _FIGURES.pop(next(iter(_FIGURES)))
        kept = (result, quality_memory_figure(result))
        _FIGURES[id(result)] = kept
    return kept[1]


__all__ = ["CACHED_ANSWERS", "cached_figure", "cached_recommendation"]
