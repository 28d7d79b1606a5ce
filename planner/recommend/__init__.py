"""Which model and which format to run on a GPU budget: fitting pairs ranked by expected quality.

Pure core like the rest of ``planner``: memory from :mod:`planner.fit`, quality from
:mod:`planner.quality` (published figures only), speed from :mod:`planner.fit.speed`.
"""

from __future__ import annotations

from planner.recommend.expected import (
    BENCHMARKS,
    DEFAULT_BENCHMARK,
    ExpectedQuality,
    benchmark_label,
    expected_quality,
)
from planner.recommend.filters import (
    Filters,
    RecommendError,
    bit_width,
    catalog_families,
    catalog_licenses,
)
from planner.recommend.ranking import Candidate, Exclusion, Recommendation, prepare_catalog, recommend
from planner.recommend.summary import BitWidthPick, TradeOff

__all__ = [
    "BENCHMARKS",
    "DEFAULT_BENCHMARK",
    "BitWidthPick",
    "Candidate",
    "Exclusion",
    "ExpectedQuality",
    "Filters",
    "RecommendError",
    "Recommendation",
    "TradeOff",
    "benchmark_label",
    "bit_width",
    "catalog_families",
    "catalog_licenses",
    "expected_quality",
    "prepare_catalog",
    "recommend",
]
