"""How much of "what fits" the published data ranks, on the four cards issue 13 names, at 8k and 32k tokens.

The format side is complete: every default candidate format has a retention (published accuracy, the
KL-divergence translation, a fallback or a 16-bit baseline), so a fitting pair is unranked only when its
model has no published MMLU-Pro, and then the reason names that. Today that is seven of the 156 catalog
models (see data/quality/models.json, each entry's note says where the figure was looked for): three code models
(StarCoder, Mamba-Codestral, Qwen3-Coder-30B-A3B), LFM2-350M, Falcon-180B, Qwen3-Coder-480B and MiniMax-M2.5,
so 149 of 156 (95.5%) have a score, issue 13's 95% of catalog models. Only the first three and LFM2-350M fit
these cards, which leaves 95.2-96.6% of the fitting pairs ranked (the README and benchmarks/recommend.py print
it; the RTX 3060 at 32k is the lowest, 378 of 397): issue 13's 95% on every card at 8k and 32k, which the floor
below guards.
"""

import pytest

from planner.catalog import load_catalog
from planner.fit import budget_from_gpu
from planner.memory.estimate import RunSettings
from planner.quality import model_score
from planner.recommend import recommend

CARDS = [("rtx-3060", 1), ("rtx-4090", 1), ("rtx-3090", 2), ("h100-sxm", 1)]
FLOOR = 0.95
WITHOUT_MMLU_PRO = {
    "bigcode/starcoder",
    "mistralai/Mamba-Codestral-7B-v0.1",
    "LiquidAI/LFM2-350M",
    "tiiuae/falcon-180B",
    "Qwen/Qwen3-Coder-480B-A35B-Instruct",
    "MiniMaxAI/MiniMax-M2.5",
    "Qwen/Qwen3-Coder-30B-A3B-Instruct",
}


def test_at_least_95_percent_of_catalog_models_have_a_published_mmlu_pro():
    catalog = load_catalog()
    scored = [m for m in catalog if model_score(m).best("mmlu_pro") is not None]
    assert len(scored) / len(catalog) >= 0.95


def test_the_catalog_models_without_mmlu_pro_are_known_and_explained():
    missing = {m for m in load_catalog() if model_score(m).best("mmlu_pro") is None}
    assert missing <= WITHOUT_MMLU_PRO
    assert all(model_score(m).note for m in missing)


@pytest.mark.parametrize("context", [8192, 32768])
@pytest.mark.parametrize(("gpu", "count"), CARDS)
def test_fitting_pairs_are_ranked_or_say_why(gpu, count, context):
    result = recommend(budget_from_gpu(gpu, count), RunSettings(context=context), context_of_largest=False)
    assert result.candidates
    for c in result.unranked:
        assert c.quality.retention_used is not None, f"{c.format_id}: no retention"
        assert c.model_id in WITHOUT_MMLU_PRO and "no published MMLU-Pro score" in c.quality.reason
    assert len(result.ranked) / len(result.candidates) >= FLOOR
