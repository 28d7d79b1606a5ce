"""The ranking on fixed budgets, with top picks worked out by hand from ``data/quality`` and the configs.

Every budget below is a custom size (``budget_from_size``, so no catalog GPU and no speed: ties go to
the smaller footprint), one GPU, context 8,192, batch 1, each format on its own engine, the default
candidate formats (bf16, fp8, bnb-int8, q8_0, q6_k, q5_k_m, q4_k_m, bnb-nf4, awq-int4, q3_k_m, q2_k)
plus the format a model is released in (gpt-oss: mxfp4, mxfp4_moe). Usable memory: llama.cpp keeps
1 GiB free (``--fit-target``), transformers keeps no margin. The default benchmark is MMLU-Pro.

How the expected figures were computed by hand (never by calling the code under test):

Scores (``data/quality/models.json``, else ``leaderboard.json``): Seed-OSS-36B-Instruct 82.7 (ByteDance
Seed's README), Qwen3.5-4B 79.1 (Qwen's card, thinking mode), Nemotron 3 Nano 78.3, gpt-oss-20b 75.0 (NVIDIA's
run, reasoning on), Phi-4-reasoning 74.3 (the -plus card's table), Qwen3-4B-Thinking-2507 74.0 (Qwen's card),
Qwen3-4B-Instruct-2507 69.6, Qwen2.5-32B-Instruct 69.0, Mixtral-8x7B-Instruct 36.92 (leaderboard), Mistral-Small-24B-Instruct-2501 66.3 (Mistral, 0.663),
Qwen2.5-14B-Instruct 63.7, Qwen3-14B 61.03 (base checkpoint, Qwen3 report Table 5), gemma-3-12b-it
60.6, Qwen3-8B 56.73. MMLU (5-shot): Qwen3-14B 81.05.

Retention (``data/quality/formats.json``; median of the accuracy rows at the nearest measured size,
plus rows within a factor 1.25 of that log-distance; a median above 100% counts as 100%):

* q2_k: only Unsloth's Gemma 3 27B row, 68.50 / 71.5 = 95.804% at any size.
* q4_k_m at 14.77B: the nearest rows are AutoRound's at 8.19B (log-distance 0.59), and within
  0.59 + ln 1.25 = 0.81 also 8.03B, 7.62B (0.66) and Unsloth's 27.4B (0.62): 99.59, 99.32, 99.80,
  99.62 -> median 99.605%. At 14.66B (Phi-4-reasoning) the same four rows: 99.606%. At 36.15B
  (Seed-OSS) only Unsloth's 27.4B row is within reach (0.28; 8.19B is at 1.48): 99.622%.
* q4_k_m at 4.54B (Qwen3.5-4B, vision tower included): the nearest rows are AutoRound's 7.62B (log-distance
  0.52), and within 0.52 + 0.22 = 0.74 also 8.03B and 8.19B: 99.80, 99.32, 99.59 -> median 99.59%.
* q5_k_m, q6_k, q8_0: Unsloth's rows 100.38%, 100.52%, 100.14% -> 100%. gpt-oss in mxfp4/mxfp4_moe:
  released in that format -> 100%.
"""

from itertools import pairwise

import pytest

from planner.fit import budget_from_gpu, budget_from_size
from planner.memory.estimate import RunSettings
from planner.recommend import Filters, RecommendError, recommend
from planner.recommend.ranking import _estimate, _fit_and_speed

SETTINGS = RunSettings(context=8192, batch=1)


def _rank(size: str, **kwargs):
    return recommend(budget_from_size(size), SETTINGS, **kwargs)


def _pick(result):
    best = result.best
    return best.model_id, best.format_id


QWEN35_4B = "Qwen/Qwen3.5-4B"


def test_8_gib():
    """8 GiB: Qwen3.5-4B (MMLU-Pro 79.1) in Q5_K_M at a retention capped at 100%; its Q6_K and Q8_0 tie at
    79.1 and follow it, since ties go to the smaller footprint.

    Fits: 4.21B of language model x ~5.7 bits = ~2.8 GiB, plus its 0.33B vision tower (24 blocks of 1,024)
    as llama-server's mmproj, and a small cache: the 8 gated-attention layers keep 2 x 4 KV heads x 256 x 2 B
    = 16 KiB per layer per token, 8 x 16 KiB x 8,192 = 256 MiB; the 24 Gated DeltaNet layers keep a state of
    32 value heads x 128 x 128 x 4 B = 2 MiB plus a convolution window of 3 x (2 x 16 x 128 + 32 x 128) x 4 B
    = 96 KiB each: 24 x 2,195,456 B = 50.25 MiB. All of it well inside the 7 GiB llama.cpp may use [4.58].
    First other model: Qwen3-4B-Thinking-2507 in Q5_K_M at 74.0 (capped at 100%). Still ranked further down:
    Qwen3-14B in Q2_K, 61.03 x 0.95804 = 58.47 (14.77B x ~3 bits = 5.2 GiB of weights, KV 2 x 40 layers x 8
    x 128 x 2 B x 8,192 = 1.25 GiB: just under 7 [6.96]); its Q3_K_M (~6.4 GiB of weights + 1.25 GiB) does not
    fit, nor does gemma-3-12b-it in Q2_K (its text model [6.20] plus the mmproj llama-server loads on the GPU,
    SigLIP's 0.4B parameters in F16 and the clip warm-up buffer [7.08]).
    """
    result = _rank("8GiB")
    assert _pick(result) == (QWEN35_4B, "q5_k_m")
    assert result.best.quality.expected == pytest.approx(79.1)
    assert [(c.model_id, c.format_id) for c in result.ranked[:3]] == [
        (QWEN35_4B, "q5_k_m"),
        (QWEN35_4B, "q6_k"),
        (QWEN35_4B, "q8_0"),
    ]
    attention, deltanet = (
        8 * 2 * 4 * 256 * 2 * 8192,
        24 * (32 * 128 * 128 * 4 + 3 * (2 * 16 * 128 + 32 * 128) * 4),
    )
    assert result.best.to_dict()["memory"]["kv_cache"] == attention + deltanet
    other = next(c for c in result.ranked if c.model_id != QWEN35_4B)
    assert (other.model_id, other.format_id) == ("Qwen/Qwen3-4B-Thinking-2507", "q5_k_m")
    assert other.quality.expected == pytest.approx(74.0)
    qwen14 = next(c for c in result.ranked if (c.model_id, c.format_id) == ("Qwen/Qwen3-14B", "q2_k"))
    assert qwen14.quality.expected == pytest.approx(61.03 * 68.50 / 71.5, abs=0.005)
    assert not any((c.model_id, c.format_id) == ("Qwen/Qwen3-14B", "q3_k_m") for c in result.candidates)
    assert not any(r.model_id == "google/gemma-3-12b-it" and r.format_id == "q2_k" for r in result.ranked)


def test_12_gib():
    """12 GiB: Qwen3.5-4B in Q5_K_M again (79.1, test_8_gib). The best other model is Phi-4-reasoning in
    Q4_K_M, 74.3 x 0.99606 = 74.01, 0.01 above Qwen3-4B-Thinking-2507's 74.0: a 14.7B model at 4 bits against
    a 4B model at 5. Further down, Mistral-Small-24B in Q2_K (66.3 x 0.95804 = 63.52) just ahead of
    Qwen2.5-14B in Q4_K_M (63.7 x 0.99605 = 63.45): a 24B model at 2 bits against a 14.8B model at 4 bits,
    0.07 points apart.

    Fits: Phi-4-reasoning 14.66B x ~4.9 bits = 9.0 GB = 8.4 GiB of weights + KV 2 x 40 layers x 10 x 128 x
    2 B = 200 KiB per token x 8,192 = 1.56 GiB + buffers < 11 GiB [10.22]. Mistral-Small: 23.57B x ~3 bits =
    ~8.8 GB = 8.2 GiB of weights + KV 2 x 40 x 8 x 128 x 2 B x 8,192 = 1.25 GiB + buffers < 11 GiB [9.87];
    Qwen2.5-14B Q4_K_M: 14.77B x ~4.9 bits = 9.0 GB = 8.4 GiB + 48 layers of the same KV (1.5 GiB) [10.05].
    """
    result = _rank("12GiB")
    assert _pick(result) == (QWEN35_4B, "q5_k_m")
    others = [c for c in result.ranked if c.model_id != QWEN35_4B]
    phi, thinking = others[0], others[1]
    assert (phi.model_id, phi.format_id) == ("microsoft/Phi-4-reasoning", "q4_k_m")
    assert phi.quality.expected == pytest.approx(74.3 * 0.99606, abs=0.005)
    assert (thinking.model_id, thinking.quality.expected) == (
        "Qwen/Qwen3-4B-Thinking-2507",
        pytest.approx(74.0),
    )
    pairs = [(c.model_id, c.format_id) for c in result.ranked]
    at = pairs.index(("mistralai/Mistral-Small-24B-Instruct-2501", "q2_k"))
    mistral, second = result.ranked[at], result.ranked[at + 1]
    assert mistral.quality.expected == pytest.approx(66.3 * 68.50 / 71.5, abs=0.005)
    assert (second.model_id, second.format_id) == ("Qwen/Qwen2.5-14B-Instruct", "q4_k_m")
    assert second.quality.expected == pytest.approx(63.7 * 0.99605, abs=0.005)


def test_12_gib_on_mmlu():
    """MMLU (5-shot) instead: Qwen3-14B (base MMLU 81.05) in Q4_K_M, 81.05 x 0.99605 = 80.73 [9.81 GiB]."""
    result = _rank("12GiB", benchmark="mmlu")
    assert _pick(result) == ("Qwen/Qwen3-14B", "q4_k_m")
    assert result.best.quality.expected == pytest.approx(81.05 * 0.99605, abs=0.005)
    assert all(c.quality.score.benchmark == "MMLU" for c in result.ranked)


def test_24_gib():
    """24 GiB: Qwen3.5-27B (MMLU-Pro 86.1, Qwen's card) in Q5_K_M at a 100% retention (Unsloth's Q5_K_M rows,
    capped): 27.36B with its vision tower x ~5.7 bits = 19.3 GiB with the cache, under the 23 GiB llama.cpp may
    use; then its Q6_K (also 100%, more memory). Seed-OSS-36B in Q4_K_M (82.7 x 0.99622 = 82.39) and Nemotron 3
    Nano in AWQ (78.3 x 0.9944 = 77.86) rank below; gpt-oss-20b's 75.0 (a 100% retention) in its smallest
    fitting form further down.

    Seed-OSS fits: 36.15B x ~4.9 bits = 22 GB = 20.4 GiB of weights + KV 2 x 64 layers x 8 x 128 x 2 B =
    256 KiB per token x 8,192 = 2 GiB: just under the 23 GiB llama.cpp may use [22.44]. Nemotron 3 Nano
    (31.58B) in AWQ: the nearest AWQ rows are 69.0B (log-distance 0.78) and, within 1.00, 70.55B, 72.7B and
    13.0B: median of 100.17, 99.71, 97.81, 99.17 = 99.44%. gpt-oss-20b keeps 100% in Q5_K_M, Q6_K, Q8_0
    (Unsloth's rows, capped) and in its released MXFP4; among those ties the smallest ranks first: Q5_K_M, whose
    routed experts stay MXFP4 as llama.cpp keeps them [11.38 GiB of 23].
    """
    result = _rank("24GiB")
    best = result.best
    assert _pick(result) == ("Qwen/Qwen3.5-27B", "q5_k_m")
    assert best.quality.expected == pytest.approx(86.1)
    seed = next(c for c in result.ranked if c.model_id == "ByteDance-Seed/Seed-OSS-36B-Instruct")
    assert seed.format_id == "q4_k_m" and seed.quality.expected == pytest.approx(82.7 * 0.99622, abs=0.005)
    nemotron = next(c for c in result.ranked if c.model_id.startswith("nvidia/NVIDIA-Nemotron-3-Nano"))
    assert nemotron.format_id == "awq-int4" and nemotron.quality.expected == pytest.approx(
        78.3 * 0.9944, abs=0.005
    )
    gpt = [c for c in result.ranked if c.model_id == "openai/gpt-oss-20b"]
    tied = [c for c in gpt if c.quality.expected == pytest.approx(75.0)]
    assert {c.format_id for c in tied} >= {"q5_k_m", "q6_k", "q8_0", "mxfp4_moe"}
    assert gpt[0].format_id == "q5_k_m" and gpt[0].fit.required_bytes == min(
        c.fit.required_bytes for c in tied
    )
    assert (
        gpt[0].quality.score.checkpoint == "openai/gpt-oss-20b" and "NVIDIA" in gpt[0].quality.score.setting
    )
    assert any("released in" in n and "gpt-oss-20b: mxfp4" in n for n in result.notes)


def test_24_gib_per_bit_width_and_the_largest_model():
    """Best and largest per width at 24 GiB, by hand.

    16-bit best: Qwen3.5-4B bf16 (79.1; 4.54B x 2 B = 8.5 GiB); largest: Falcon3-10B-Instruct (10.31B x 2 B
    = 19.2 GiB + KV 2 x 40 layers x 4 x 256 x 2 B x 8,192 = 1.25 GiB, within 24 GiB on transformers).
    4-bit largest: Seed-OSS-36B-Instruct Q4_K_M (36.15B). Its context left: KV is 2 x 64 layers x 8 x 128
    x 2 B = 256 KiB per token; at 8,192 tokens it needs 22.44 GiB of the 23 llama.cpp may use, so
    (23 - 22.44) GiB / 256 KiB = ~2,290 more tokens: ~10,480, in llama.cpp's 256-cell steps 10,240.
    """
    result = _rank("24GiB")
    by = {p.bit_width: p for p in result.by_bit_width}
    assert list(by) == [16, 8, 6, 5, 4, 3, 2]
    assert (by[16].pick.model_id, by[16].pick.format_id) == (QWEN35_4B, "bf16")
    assert by[16].largest.model_id == "tiiuae/Falcon3-10B-Instruct"
    four = by[4].largest
    assert (four.model_id, four.format_id) == ("ByteDance-Seed/Seed-OSS-36B-Instruct", "q4_k_m")
    used_8k = four.fit.required_bytes
    more = (four.fit.usable_bytes - used_8k) // (2 * 64 * 8 * 128 * 2)
    assert by[4].largest_context.value == (8192 + more) // 256 * 256
    data = result.to_dict()["by_bit_width"][4]
    assert data["largest"]["model"] == "ByteDance-Seed/Seed-OSS-36B-Instruct"
    assert data["largest"]["max_context"] == 10240
    assert set(data["largest"]) >= {"model", "format", "parameters", "required", "max_context"}


def test_24_gib_trade_offs():
    """16-bit vs a larger model at 4 bits, and at 2 bits, at 24 GiB.

    16 vs 4: Qwen3.5-4B bf16 79.1 vs Qwen3.5-27B (27.4B) at 4 bits, AWQ: 86.1 x 0.9971 (the AWQ rows
    nearest 27.4B on a log scale: 70.55B 99.71, 13.0B 99.17, 69.0B 100.17 -> median 99.71%) = 85.85: +6.75,
    the larger model wins.
    4 vs 2: Qwen3.5-27B at 4 bits 85.85 vs the best 2-bit model larger than it that fits, Qwen3.5-35B-A3B
    (35.1B) Q2_K, 85.3 x 0.95804 = 81.72: -4.13, two bits do not pay here.
    """
    result = _rank("24GiB")
    sixteen, two = result.trade_offs[0], result.trade_offs[1]
    assert result.trade_off is sixteen and (sixteen.high, sixteen.low) == (16, 4)
    qwen35 = "Qwen/Qwen3.5-27B"
    assert sixteen.sixteen.model_id == QWEN35_4B and sixteen.larger_four.model_id == qwen35
    assert sixteen.difference == pytest.approx(86.1 * 0.9971 - 79.1, abs=0.005) and sixteen.larger_wins
    assert (two.high, two.low) == (4, 2) and two.larger_four.model_id == "Qwen/Qwen3.5-35B-A3B"
    assert two.difference == pytest.approx(85.3 * 0.95804 - 86.1 * 0.9971, abs=0.005)
    assert two.larger_wins is False
    assert "the 4-bit model is expected to score 4.1 points higher" in two.text


def test_pareto_front():
    """Each point on the front needs more memory than the one before and is expected to score more;
    nothing ranked is both cheaper and better than a point on it."""
    result = _rank("24GiB")
    front = result.pareto
    assert front[-1].quality.expected == result.best.quality.expected
    for a, b in pairwise(front):
        assert a.fit.required_bytes <= b.fit.required_bytes and a.quality.expected < b.quality.expected
    for point in front:
        assert not any(
            c.fit.required_bytes < point.fit.required_bytes and c.quality.expected > point.quality.expected
            for c in result.ranked
        )
    q8 = next(c for c in result.ranked if (c.model_id, c.format_id) == ("openai/gpt-oss-20b", "q8_0"))
    assert q8 not in front  # same 75.0 as Q5_K_M, more memory


def test_ranked_order_and_unranked_after():
    result = _rank("24GiB")
    expected = [c.quality.expected for c in result.ranked]
    assert expected == sorted(expected, reverse=True)
    assert [c.rank for c in result.ranked] == list(range(1, len(result.ranked) + 1))
    first_unranked = len(result.ranked)
    assert all(not c.ranked and c.rank is None for c in result.candidates[first_unranked:])
    assert all(c.quality.reason for c in result.unranked)
    assert all(c.fit.fits for c in result.candidates)


def test_unscored_models_and_unmeasured_formats_are_listed_not_invented():
    result = _rank("24GiB")
    code = [c for c in result.unranked if c.model_id == "bigcode/starcoder"]
    assert code, "a fitting model without MMLU-Pro must still be listed"
    assert all(c.quality.expected is None for c in code)
    assert "no published MMLU-Pro score" in code[0].quality.reason
    lfm2 = next(c for c in result.unranked if c.model_id == "LiquidAI/LFM2-350M")
    assert "Liquid AI's model card prints MMLU" in lfm2.quality.reason
    # DeepSeek publishes no MMLU-Pro for V2-Lite; Moonshot AI's run (25.5, Moonlight README) ranks it, said so.
    v2_lite = next(c for c in result.ranked if c.model_id == "deepseek-ai/DeepSeek-V2-Lite")
    assert v2_lite.quality.score.value == pytest.approx(25.5) and "Moonshot" in v2_lite.quality.score.setting


def test_context_beyond_the_model_limit_is_excluded():
    result = _rank("24GiB")
    excluded = {e.model_id: e.reason for e in result.excluded}
    assert "microsoft/Phi-3-mini-4k-instruct" in excluded
    assert "4,096" in excluded["microsoft/Phi-3-mini-4k-instruct"]
    assert all(c.model_id != "microsoft/Phi-3-mini-4k-instruct" for c in result.candidates)
    short = recommend(budget_from_size("24GiB"), RunSettings(context=4096))
    assert any(c.model_id == "microsoft/Phi-3-mini-4k-instruct" for c in short.candidates)


def test_benchmarks_are_never_mixed():
    for benchmark, name in (("mmlu-pro", "MMLU-Pro"), ("mmlu", "MMLU")):
        result = _rank("24GiB", benchmark=benchmark)
        assert all(c.quality.score.benchmark.startswith(name) for c in result.ranked)
        if benchmark == "mmlu":
            assert not any(c.quality.score.benchmark.startswith("MMLU-Pro") for c in result.ranked)


def test_evidence_is_carried():
    ranked = _rank("12GiB").ranked
    best = next(
        c
        for c in ranked
        if (c.model_id, c.format_id) == ("mistralai/Mistral-Small-24B-Instruct-2501", "q2_k")
    )
    score = best.quality.score
    assert score.source == "https://huggingface.co/mistralai/Mistral-Small-24B-Instruct-2501"
    assert {r.source.url for r in best.quality.retention.evidence} == {
        "https://docs.unsloth.ai/basics/unsloth-dynamic-2.0-ggufs"
    }
    data = best.to_dict()
    memory = data["memory"]
    assert all(
        isinstance(memory[k], int) for k in ("weights", "kv_cache", "activations", "overhead", "required")
    )
    assert memory["headroom"] == memory["usable"] - memory["required"]
    assert data["retention"]["evidence"] and data["score"]["source"].startswith("https://")


def test_speed_breaks_ties_on_a_catalog_gpu():
    result = recommend(budget_from_gpu("rtx-4090"), SETTINGS)
    assert result.best.speed is not None
    for a, b in zip(result.ranked, result.ranked[1:], strict=False):
        if round(a.quality.expected, 9) == round(b.quality.expected, 9):
            assert a.speed.decode_tokens_per_s >= b.speed.decode_tokens_per_s
    assert any("decode speed" in text for text in result.assumptions)


def test_custom_budgets_state_that_there_is_no_speed():
    result = _rank("24GiB")
    assert all(c.speed is None for c in result.candidates)
    assert any("no speed estimate" in text for text in result.assumptions)


def test_kind_filters_and_bit_widths():
    result = _rank("24GiB", filters=Filters(bit_widths=(4,), modalities=("text",), architectures=("dense",)))
    assert {c.bit_width for c in result.candidates} == {4}
    assert {c.modality for c in result.candidates} == {"text"} and {
        c.architecture for c in result.candidates
    } == {"dense"}
    assert [p.bit_width for p in result.by_bit_width] == [4]
    assert any("modality vision is filtered out" in e.reason for e in result.excluded)  # gemma 3
    assert any("architecture moe is filtered out" in e.reason for e in result.excluded)  # gpt-oss, Mixtral
    with pytest.raises(RecommendError, match="cover"):
        _rank("24GiB", filters=Filters(bit_widths=(7,)))


@pytest.mark.parametrize("sort", ["speed", "headroom"])
def test_sort_orders_the_listing_but_not_the_rank(sort):
    result = recommend(budget_from_gpu("rtx-4090"), SETTINGS, sort=sort)
    listed = [c for c in result.listing if c.ranked]
    if sort == "speed":
        values = [c.speed.decode_tokens_per_s for c in listed]
    else:
        values = [c.fit.headroom_bytes for c in listed]
    assert values == sorted(values, reverse=True)
    assert result.best.rank == 1 and result.to_dict()["best"]["rank"] == 1
    assert result.to_dict()["sort"] == sort
    with pytest.raises(RecommendError, match="valid: quality, speed, headroom"):
        recommend(budget_from_size("8GiB"), SETTINGS, sort="price")


def test_filters_narrow_the_candidates():
    result = _rank("24GiB", filters=Filters(families=("gemma",), licenses=("gemma",), min_context=100_000))
    assert {c.family for c in result.candidates} == {"gemma3"}  # gemma2 stops at 8,192 tokens
    assert all(c.license == "gemma" for c in result.candidates)
    assert all(c.max_position_embeddings >= 100_000 for c in result.candidates)
    assert any("filtered out" in e.reason for e in result.excluded)


def test_engine_keeps_only_its_formats():
    result = _rank("24GiB", engine="vllm")
    assert {c.engine for c in result.candidates} == {"vllm"}
    assert "q4_k_m" not in result.formats
    notes = _rank("24GiB", engine="vllm", formats=["q4_k_m", "awq-int4"]).notes
    assert any("q4_k_m left out" in n for n in notes)


def test_several_gpus():
    """2 x 24 GiB with llama.cpp: Qwen3.5-27B (86.1) in Q5_K_M at a 100% retention, split over the two cards;
    Seed-OSS-36B (82.7) now fits in Q5_K_M at 100% too (36.15B x ~5.7 bits = ~25.6 GB plus 2 GiB of KV) and
    ranks below it; Qwen2.5-72B-Instruct (71.1) at Q2_K: 72.7B x ~3 bits = ~27 GB fits across both, 71.1 x
    0.95804 = 68.12, below both."""
    result = recommend(budget_from_size("24GiB", 2), SETTINGS, "llama.cpp")
    assert _pick(result) == ("Qwen/Qwen3.5-27B", "q5_k_m")
    assert result.best.quality.expected == pytest.approx(86.1)
    assert len(result.best.fit.per_gpu) == 2
    seed = next(
        c
        for c in result.ranked
        if (c.model_id, c.format_id) == ("ByteDance-Seed/Seed-OSS-36B-Instruct", "q5_k_m")
    )
    assert seed.quality.expected == pytest.approx(82.7)
    qwen72 = next(
        c for c in result.ranked if (c.model_id, c.format_id) == ("Qwen/Qwen2.5-72B-Instruct", "q2_k")
    )
    assert qwen72.quality.expected == pytest.approx(71.1 * 68.50 / 71.5, abs=0.005)


def test_to_dict_is_plain_json():
    import json

    data = _rank("12GiB").to_dict(top=3)
    assert len(data["ranked"]) == 3 and data["ranked_total"] > 3
    assert data["best"]["model"] == QWEN35_4B  # test_12_gib
    assert {"pareto", "trade_offs", "sort", "extra_models"} <= set(data)
    assert all(isinstance(p["required"], int) for p in data["pareto"])
    assert isinstance(data["gpu"]["vram"], int) and data["gpu"]["vram"] == 12 * 2**30
    json.dumps(data)


def test_a_second_budget_reuses_the_estimates():
    """Estimates do not depend on the budget, so ranking the same catalog on another card computes none anew
    (how fast that is is measured in benchmarks/recommend.py, not asserted here)."""
    settings = RunSettings(context=16384)
    recommend(budget_from_gpu("rtx-4090"), settings, context_of_largest=False)
    before = _estimate.cache_info()
    recommend(budget_from_gpu("rtx-3090"), settings, context_of_largest=False)
    after = _estimate.cache_info()
    assert after.misses == before.misses and after.hits > before.hits


def test_another_sort_reuses_the_fits_and_speeds():
    """A new sort or filter ranks the same pairs again without a new estimate, fit or speed estimate."""
    budget, settings = budget_from_gpu("rtx-4090"), RunSettings(context=12288)
    first = recommend(budget, settings, context_of_largest=False)
    before = (_estimate.cache_info().misses, _fit_and_speed.cache_info().misses)
    again = recommend(
        budget, settings, sort="speed", filters=Filters(bit_widths=(4,)), context_of_largest=False
    )
    assert (_estimate.cache_info().misses, _fit_and_speed.cache_info().misses) == before
    assert {(c.model_id, c.format_id) for c in again.candidates} == {
        (c.model_id, c.format_id) for c in first.candidates if c.bit_width == 4
    }


def test_hub_models_join_the_comparison(hub):
    """A Hub id is read with the real huggingface_hub client from the fake Hub; it has no published score,
    so it is listed unranked with the reason; a gated id is left out with the Hub's reason; a catalog id
    given again is the catalog's entry."""
    result = recommend(
        budget_from_size("8GiB"),
        RunSettings(context=2048),  # the tiny model's max_position_embeddings
        extra_models=["fake-org/tiny-llama", "fake-org/gated", "meta-llama/Llama-3.1-8B-Instruct"],
        context_of_largest=False,
    )
    tiny = [c for c in result.candidates if c.model_id == "fake-org/tiny-llama"]
    assert tiny and all(c.source == "hub" and not c.ranked for c in tiny)
    assert tiny[0].quality.reason.startswith("no published MMLU-Pro score")
    assert tiny[0].family == "llama" and tiny[0].license is None
    gated = next(e for e in result.excluded if e.model_id == "fake-org/gated")
    assert "could not be read from the Hub" in gated.reason and "gated" in gated.reason.lower()
    assert result.extra_models == ("fake-org/tiny-llama",)
    assert (
        sum(
            c.model_id == "meta-llama/Llama-3.1-8B-Instruct" and c.format_id == "bf16"
            for c in result.candidates
        )
        <= 1
    )


def test_hub_specs_kept_are_bounded_and_an_evicted_one_is_read_again(hub, monkeypatch):
    """A hosted API takes ``add-model`` from anyone: the specs kept between calls are bounded (oldest out),
    and a model whose spec was dropped is read again from the Hub (its cached answers stay right)."""
    from planner.recommend import ranking

    monkeypatch.setattr(ranking, "HUB_SPECS_KEPT", 1)
    monkeypatch.setattr(ranking, "_HUB_SPECS", type(ranking._HUB_SPECS)())
    spec = ranking._spec_of("fake-org/tiny-llama")  # read from the fake Hub, then kept
    assert list(ranking._HUB_SPECS) == ["fake-org/tiny-llama"]
    ranking._keep_hub_spec("other/model", spec)
    assert list(ranking._HUB_SPECS) == ["other/model"]
    again = ranking._spec_of("fake-org/tiny-llama")
    assert again is not spec and again.total_parameters == spec.total_parameters
    assert list(ranking._HUB_SPECS) == ["fake-org/tiny-llama"]
