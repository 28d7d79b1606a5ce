"""The pre-estimate skip of pairs that cannot fit (planner/recommend/prune.py) changes no answer.

Hand-worked floors (decoder matrices x the fewest bits the format gives them, from the configs and
ggml's type sizes: Q2_K 84 bytes per 256 weights = 2.625 bits, Q8_0 34 per 32 = 8.5, MXFP4 17 per 32
= 4.25):

* Llama 3.1 405B: 126 layers x (q, o 16384 x 16384; k, v 16384 x 1024; gate, up, down 16384 x
  53248) = 401,646,551,040 weights; in Q2_K 401,646,551,040 x 2.625 / 8 = 131,790,274,560 bytes,
  over an 80 GB H100 (85,520,809,984 bytes in the GPU catalog): skipped even at 2 bits.
* gpt-oss-120b: routed experts 36 x 128 x (2880 x 5760 + 2880 x 2880) = 114,661,785,600 weights,
  attention 36 x (2 x 2880 x 4096 + 2 x 2880 x 512) = 955,514,880. Its GGUF keeps the checkpoint's
  MXFP4 experts in every ftype, so Q8_0 is at least 114,661,785,600 x 4.25 / 8 + 955,514,880 x 8.5 / 8
  = 61,929,308,160 bytes: under the H100, not skipped (and it does fit there). Counting the experts
  at Q8_0's 8.5 bits (121.8 GB) would have dropped a fitting pair.
"""

import pytest

from planner.catalog import load_catalog
from planner.engines import default_engine
from planner.errors import PlannerError
from planner.fit import budget_from_gpu, fit_estimate, representative_formats
from planner.formats import parse_format
from planner.memory.estimate import RunSettings
from planner.recommend import ranking, recommend
from planner.recommend.prune import cannot_fit, floor_bits, weights_floor

H100 = budget_from_gpu("h100-sxm", 1)


def test_hand_worked_floors():
    catalog = load_catalog()
    llama = catalog["meta-llama/Llama-3.1-405B-Instruct"].spec()
    oss = catalog["openai/gpt-oss-120b"].spec()
    assert weights_floor(llama, parse_format("q2_k")) == 131_790_274_560
    assert weights_floor(oss, parse_format("q8_0")) == 61_929_308_160
    assert H100.capacity_bytes == 85_520_809_984
    assert cannot_fit(llama, parse_format("q2_k"), RunSettings(), H100)
    assert not cannot_fit(oss, parse_format("q8_0"), RunSettings(), H100)
    est = ranking._estimate("openai/gpt-oss-120b", "q8_0", "llama.cpp", RunSettings(context=8192))
    assert fit_estimate(est, H100).fits


def test_formats_with_narrower_matrices_are_never_skipped():
    # IQ3_XXS puts attn_q/attn_k in IQ2_S (2.5 bits); EXL2 spreads bits over layers; gpu_layers offloads.
    assert floor_bits(parse_format("iq3_xxs")) is None
    assert floor_bits(parse_format("exl2-4.0")) is None
    assert floor_bits(parse_format("mlx-4bit")) == 4  # 4.5 nominal includes the default group's scales
    llama = load_catalog()["meta-llama/Llama-3.1-405B-Instruct"].spec()
    assert not cannot_fit(llama, parse_format("q2_k"), RunSettings(gpu_layers=10), H100)


def test_the_floor_is_below_every_catalog_estimate():
    """Against the full estimate: the floor never exceeds the GPU bytes charged (nor the weights)."""
    budget = budget_from_gpu("b200", 8)  # large enough that estimates are not refused for size
    settings = RunSettings(context=4096)
    formats = [*representative_formats(None), "q4_0", "q5_k_s", "gptq-int4", "mxfp4"]
    checked = 0
    for model_id, entry in load_catalog().items():
        spec = entry.spec()
        for fid in formats:
            fmt = parse_format(fid)
            try:
                est = ranking._estimate(model_id, fmt.id, default_engine(fmt).id, settings)
            except PlannerError:
                continue
            floor = weights_floor(spec, fmt)
            assert floor is not None
            assert floor <= est.weights.bytes, (model_id, fid)
            assert floor <= fit_estimate(est, budget).required_bytes, (model_id, fid)
            checked += 1
    assert checked > 1000


@pytest.mark.parametrize(("gpu", "count", "context"), [("rtx-3060", 1, 8192), ("rtx-3090", 2, 32768)])
def test_skipping_changes_no_answer(gpu, count, context, monkeypatch):
    budget, settings = budget_from_gpu(gpu, count), RunSettings(context=context)
    skipped = recommend(budget, settings).to_dict()
    monkeypatch.setattr(ranking, "cannot_fit", lambda *args: False)
    full = recommend(budget, settings).to_dict()
    skipped.pop("elapsed_s")
    full.pop("elapsed_s")
    assert skipped == full
