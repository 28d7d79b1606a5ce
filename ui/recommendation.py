"""The What can I run page's ranking, computed once per set of inputs so a rerun only redraws.

:func:`planner.recommend.recommend` does the work; this edge keeps the last answers keyed by the
inputs (all frozen, hashable values), so moving a slider back, switching pages or redrawing costs
no new ranking. Hub models read for a comparison are kept by the core as well.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

from planner.fit import Budget
from planner.memo import IdentityCache
from planner.memory.estimate import RunSettings
from planner.recommend import Filters, Recommendation, recommend

T = TypeVar("T")

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


#: What the page derives from each cached answer (its chart, its table, its listing), by the answer's
#: identity and a name: an answer object is reused while cached, so a rerun redraws without rebuilding.
DERIVED_KEPT = 4 * CACHED_ANSWERS
_DERIVED = IdentityCache(DERIVED_KEPT)


def derived(result: Recommendation, name: str, make: Callable[[], T]) -> T:
    """``make()``, built once per answer and ``name`` (never shown for another answer: the entry holds its answer)."""
    return _DERIVED.get((result,), (name,), make)


def cached_figure(result: Recommendation):
    """:func:`ui.charts.quality_memory_figure` of ``result``, built once per answer (plotly figures are slow to build)."""
    from ui.charts import quality_memory_figure

    return derived(result, "figure", lambda: quality_memory_figure(result))


__all__ = ["CACHED_ANSWERS", "cached_figure", "cached_recommendation", "derived"]
