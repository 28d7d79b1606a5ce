"""prepare_catalog: a server's start-up makes every catalog pair's estimate frame once, and changes no answer.

The ranking's frames are made by the engines' ``_frame`` functions (llama.cpp's method, transformers'
module function) and the weights reports by ``QuantFormat.weights``; after the preparation a ranking at
a context short enough to bring in every model (1,024 tokens), on the largest catalog budget, makes none.
"""

from __future__ import annotations

import json

import pytest

import planner.engines.transformers.engine as transformers_engine
from planner.catalog import load_catalog
from planner.engines.llamacpp.engine import LlamaCppEngine
from planner.fit import budget_from_gpu
from planner.memo import clear_all
from planner.memory.estimate import RunSettings
from planner.recommend import prepare_catalog, recommend
from planner.recommend.ranking import _estimate, _fit_and_speed, _max_context


def _answer(result) -> str:
    data = result.to_dict()
    data.pop("elapsed_s", None)
    return json.dumps(data, sort_keys=True, default=str)


@pytest.fixture
def cold():
    """No estimate, fit, frame or report remembered, before and after."""
    for cached in (_estimate, _fit_and_speed, _max_context):
        cached.cache_clear()
    clear_all()
    yield
    for cached in (_estimate, _fit_and_speed, _max_context):
        cached.cache_clear()
    clear_all()


def test_after_preparing_a_ranking_builds_no_frame_and_answers_the_same(cold, monkeypatch):
    budget = budget_from_gpu("h100-sxm", 8)
    settings = RunSettings(context=1024)
    before = _answer(recommend(budget, settings))

    for cached in (_estimate, _fit_and_speed, _max_context):
        cached.cache_clear()
    clear_all()
    prepared = prepare_catalog()
    # every catalog model in each default format (some refuse a format: gpt-oss's MXFP4 experts, ...)
    assert len(load_catalog()) * 9 < prepared <= len(load_catalog()) * 13

    built = []
    real_llamacpp, real_transformers = LlamaCppEngine._frame, transformers_engine._frame
    monkeypatch.setattr(
        LlamaCppEngine, "_frame", lambda self, *a: built.append(a[:2]) or real_llamacpp(self, *a)
    )
    monkeypatch.setattr(
        transformers_engine, "_frame", lambda *a: built.append(a[:2]) or real_transformers(*a)
    )
    after = recommend(budget, settings)
    assert built == []
    assert _answer(after) == before
    assert len(after.candidates) > 1000
