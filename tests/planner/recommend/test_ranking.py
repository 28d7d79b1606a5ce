"""The ranking on fixed budgets, with top picks worked out by hand from ``data/quality`` and the configs.

Every budget below is a custom size (``budget_from_size``, so no catalog GPU and no speed: ties go to
the smaller footprint), one GPU, context 8,192, batch 1, each format on its own engine, the default
candidate formats (bf16, fp8, bnb-int8, q8_0, q6_k, q5_k_m, q4_k_m, bnb-nf4, awq-int4, q3_k_m, q2_k).
Usable memory: llama.cpp keeps 1 GiB free (``--fit-target``), transformers keeps no margin.

How the expected figures were computed by hand (never by calling the code under test):

Published MMLU (5-shot) scores, ``data/quality/models.json`` (models whose max_position_embeddings is
at least 8,192; Phi-3-mini-4k 70.9 and Llama 2 (4,096 tokens) are left out at 8k):
Llama-3.1-405B-Instruct 87.3, DeepSeek-V3 87.1, Llama-3.1-70B-Instruct 83.6, Meta-Llama-3-70B-Instruct
82.0, gemma-3-27b-it 78.6, DeepSeek-V2 78.4, gemma-2-27b-it 75.2, gemma-3-12b-it 74.5, gemma-2-9b-it
71.3, Llama-3.1-8B-Instruct 69.4, Meta-Llama-3-8B-Instruct 68.5, Llama-3.1-8B 66.7, ...

Retention (``data/quality/formats.json``; median of the accuracy rows at the nearest measured size,
plus rows within a factor 1.25 of that log-distance; a median above 100% counts as 100%):

* q4_k_m: rows only at 7.62-8.19B (AutoRound GGUF): 99.32, 99.80, 99.59 -> median 99.59% at any size.
* q3_k_m: rows 96.63, 97.68, 97.97 (7.62-8.19B) -> 97.68%.
* awq-int4 at 8.03B: rows at 8.03 (98.15), 7.62 (95.60), 7.24 (98.20), 6.74 (98.91) -> 98.175%;
  at 12.19B: only 13.0B (99.17%); at 27.43B: 13.0 (99.17), 69.0 (100.17), 70.55 (99.71) -> 99.71%.
* bnb-nf4 (falls back to the QLoRA bnb-nf4-dq rows) at 8.03B: 6.74B rows 101.56, 97.59 -> 99.575%;
  at 12.19B: 13.0B rows 100.64, 100.20 -> 100.42% -> 100%; at 27.43B: 32.5B rows 99.31, 97.85 ->
  98.58%; at 70.55B: 65.2B rows 100.00, 102.24 -> 101.12% -> 100%.
* fp8 (falls back to fp8-channel) at 8-12B: 8.03B rows 99.31, 101.20 -> 100.255% -> 100%; at
  27.43B and 70.55B: 70.55B rows 99.72, 100.00 -> 99.86%.
* bf16: 100% by definition. q8_0, q6_k, q5_k_m, q2_k and bnb-int8: perplexity/KLD only -> unranked.

Memory, by hand (GiB = 2^30 bytes; KV in 16 bits = 2 x layers x kv_heads x head_dim x 2 B per token).
The planner's own totals are quoted in brackets only as a cross-check of the hand arithmetic.
"""

import time

import pytest

from planner.fit import budget_from_gpu, budget_from_size
from planner.memory.estimate import RunSettings
from planner.recommend import Filters, recommend
from planner.recommend.ranking import _estimate

SETTINGS = RunSettings(context=8192, batch=1)


def _rank(size: str, **kwargs):
    return recommend(budget_from_size(size), SETTINGS, **kwargs)


def _pick(result):
    best = result.best
    return best.model_id, best.format_id


def test_8_gib():
    """8 GiB: Llama-3.1-8B-Instruct in Q4_K_M, expected 69.4 x 0.9959 = 69.12.

    Fits: 8.03B x ~4.6 bits (Q4_K_M) = 4.6 GB = 4.3 GiB of weights, KV 2 x 32 x 8 x 128 x 2 B = 128 KiB
    per token x 8,192 = 1.0 GiB, plus small llama.cpp buffers: ~5.6 GiB of 7 usable [planner 5.85].
    Higher expectations that do not fit: gemma-3-12b (74.5) needs 12.19B x ~3.9 bits = 5.9 GB = 5.5 GiB
    even at Q3_K_M plus its 16-bit vision tower and ~1 GiB KV [8.15 > 7]; gemma-2-9b at Q3_K_M (71.3 x
    0.9768 = 69.65) has 4.2 GiB of weights and 42 layers x 8 x 256 dims of KV (~2 GiB with half the
    layers windowed at 4,096) plus buffers for its 256k vocabulary [7.27 > 7]; Llama-3.1-8B in FP8 (69.4)
    needs 8.03 GB = 7.5 GiB of weights + 1 GiB KV > 8 GiB. Runner-up candidates with less: bnb-nf4 of the
    same model 69.4 x 0.99575 = 69.105, Meta-Llama-3-8B-Instruct Q4_K_M 68.5 x 0.9959 = 68.22.
    """
    result = _rank("8GiB")
    assert _pick(result) == ("meta-llama/Llama-3.1-8B-Instruct", "q4_k_m")
    assert result.best.quality.expected == pytest.approx(69.4 * 0.9959, abs=0.005)
    assert result.best.rank == 1


def test_12_gib():
    """12 GiB: gemma-3-12b-it in Q4_K_M, expected 74.5 x 0.9959 = 74.20.

    Fits: 12.19B x ~4.9 bits = 7.5 GB = 7.0 GiB of weights (with the vision tower), KV: 8 global layers x
    8,192 + 40 sliding layers x ~1,500 cells, 8 KiB per layer-token = ~1 GiB: ~9.4 of 11 GiB usable
    [9.36]. Higher: gemma-3-12b in bnb-nf4 (74.5: retention capped at 100%) keeps its 262k x 3,840
    embedding in 16 bits (1.9 GiB) next to 5.4 GB of NF4 layers, plus transformers' activations and
    CUDA overhead [13.31 > 12]; FP8 (74.5) is 11.4 GiB of weights alone; gemma-3-27b, gemma-2-27b and the
    70B models need more than 12 GiB even at 3 bits (27.2B x 3.9 bits = 13 GB).
    """
    result = _rank("12GiB")
    assert _pick(result) == ("google/gemma-3-12b-it", "q4_k_m")
    assert result.best.quality.expected == pytest.approx(74.5 * 0.9959, abs=0.005)


def test_16_gib():
    """16 GiB: gemma-3-12b-it in bnb-nf4, expected 74.5 x 1.0 = 74.5 (QLoRA's 13B rows: 100.42%, capped).

    Fits: ~7.8 GiB of weights, ~0.8 GiB KV, transformers activations and overhead ~4.7 GiB: ~13.3 of 16
    [13.31]. The same 74.5 in FP8 needs 12.2 GB = 11.4 GiB of weights + the same extras [18.24 > 16].
    Higher and not fitting: gemma-3-27b at Q3_K_M (78.6 x 0.9768 = 76.78) is 27.43B x ~3.9 bits = 13.4 GB
    = 12.4 GiB of weights + 1.2 GiB KV + buffers [15.34 > 15 usable]; gemma-2-27b Q4_K_M (75.2 x 0.9959 =
    74.89) needs 15.5 GiB of weights alone. Next: gemma-3-12b Q4_K_M 74.20.
    """
    result = _rank("16GiB")
    assert _pick(result) == ("google/gemma-3-12b-it", "bnb-nf4")
    assert result.best.quality.expected == pytest.approx(74.5, abs=1e-9)
    assert (result.ranked[1].model_id, result.ranked[1].format_id) == ("google/gemma-3-12b-it", "q4_k_m")


def test_24_gib():
    """24 GiB: gemma-3-27b-it in AWQ int4, expected 78.6 x 0.9971 = 78.37.

    Fits: 27.43B x ~4.6 bits = 15.8 GiB of weights, KV ~1 GiB, transformers activations and overhead
    ~6 GiB: ~22.9 of 24 [22.88]. Higher and not fitting: gemma-3-27b in FP8 (78.6 x 0.9986 = 78.49)
    needs 27.4 GB = 25.5 GiB of weights; DeepSeek-V2 (78.4) has 236B parameters; the 70B models need
    ~37 GiB at 4 bits. Next: gemma-3-27b Q4_K_M (78.6 x 0.9959 = 78.28), then bnb-nf4 (x 0.9858 = 77.48).
    """
    result = _rank("24GiB")
    assert _pick(result) == ("google/gemma-3-27b-it", "awq-int4")
    assert result.best.quality.expected == pytest.approx(78.6 * 0.9971, abs=0.005)
    assert [(c.format_id, round(c.quality.expected, 2)) for c in result.ranked[1:3]] == [
        ("q4_k_m", 78.28),
        ("bnb-nf4", 77.48),
    ]


def test_48_gib():
    """48 GiB: Llama-3.1-70B-Instruct in bnb-nf4, expected 83.6 x 1.0 = 83.6 (QLoRA 65B rows 101.12%, capped).

    Fits: 68.5B linear weights x 4.5 bits (NF4 + one fp32 absmax per 64) = 38.5 GB = 35.9 GiB, plus the
    16-bit embedding and head 2 x 128,256 x 8,192 x 2 B = 3.9 GiB, KV 2 x 80 x 8 x 128 x 2 B x 8,192 = 2.5
    GiB, activations and overhead ~3.5 GiB: ~45.7 of 48 [45.72]. Higher: Llama-3.1-405B (87.3) and
    DeepSeek-V3 (87.1) need hundreds of GiB; the same model in FP8 (83.48) needs 70.55 GB = 65.7 GiB.
    Next: AWQ int4 (83.6 x 0.9971 = 83.36).
    """
    result = _rank("48GiB")
    assert _pick(result) == ("meta-llama/Llama-3.1-70B-Instruct", "bnb-nf4")
    assert result.best.quality.expected == pytest.approx(83.6, abs=1e-9)
    assert result.ranked[1].format_id == "awq-int4"


def test_80_gib():
    """80 GiB: still Llama-3.1-70B-Instruct in bnb-nf4 (83.6); FP8 now fits but keeps 99.86% (83.48).

    FP8: 65.7 GiB of weights + 2.5 GiB KV + ~3.5 GiB = ~71.7 of 80 [73.61]. Nothing larger fits: the
    next bigger scored models (DeepSeek-V2 236B, Llama-3.1-405B, DeepSeek-V3 671B) need over 100 GiB
    even at 3 bits.
    """
    result = _rank("80GiB")
    assert _pick(result) == ("meta-llama/Llama-3.1-70B-Instruct", "bnb-nf4")
    assert (result.ranked[1].model_id, result.ranked[1].format_id) == (
        "meta-llama/Llama-3.1-70B-Instruct",
        "fp8",
    )
    assert result.ranked[1].quality.expected == pytest.approx(83.6 * 0.9986, abs=0.005)


def test_24_gib_summaries():
    """Best per bit width and the 16-bit vs larger 4-bit trade-off at 24 GiB, by hand.

    16-bit: gemma-2-9b-it bf16 (71.3): 9.24B x 2 B = 17.2 GiB + ~5 GiB [22.25]; gemma-3-12b bf16 needs
    22.7 GiB of weights alone. 8-bit: gemma-3-12b-it fp8 (74.5; gemma-3-27b fp8 needs 25.5 GiB of
    weights). 4-bit: gemma-3-27b-it awq-int4 (78.37). 3-bit: gemma-3-27b-it q3_k_m (78.6 x 0.9768 =
    76.78). 6, 5 and 2 bits: only q6_k, q5_k_m and q2_k were tried, which have perplexity/KLD and no
    accuracy retention, so nothing is ranked there. Trade-off: 78.37 - 71.3 = +7.07 points for the
    larger model at 4 bits.
    """
    result = _rank("24GiB")
    picks = {
        p.bit_width: (p.pick.model_id, p.pick.format_id) if p.pick else None for p in result.by_bit_width
    }
    assert picks == {
        16: ("google/gemma-2-9b-it", "bf16"),
        8: ("google/gemma-3-12b-it", "fp8"),
        6: None,
        5: None,
        4: ("google/gemma-3-27b-it", "awq-int4"),
        3: ("google/gemma-3-27b-it", "q3_k_m"),
        2: None,
    }
    for p in result.by_bit_width:
        if p.pick is None:
            assert p.fitting > 0 and "published" in p.note
    trade = result.trade_off
    assert trade.sixteen.model_id == "google/gemma-2-9b-it"
    assert trade.larger_four.model_id == "google/gemma-3-27b-it"
    assert trade.difference == pytest.approx(78.6 * 0.9971 - 71.3, abs=0.005)
    assert "7.1 points higher" in trade.text


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
    qwen = [c for c in result.unranked if c.model_id == "Qwen/Qwen2.5-7B-Instruct"]
    assert qwen, "a fitting model without MMLU (5-shot) must still be listed"
    assert all(c.quality.expected is None for c in qwen)
    assert "no published MMLU (5-shot) score" in qwen[0].quality.reason
    assert "MMLU-Pro 56.3" in qwen[0].quality.reason
    q8 = next(c for c in result.unranked if c.format_id == "q8_0" and c.quality.score is not None)
    assert q8.quality.expected is None and q8.quality.retention.basis == "perplexity"
    assert "only perplexity/KLD" in q8.quality.reason
    assert q8.quality.retention.evidence, "the perplexity/KLD rows travel as evidence"


def test_context_beyond_the_model_limit_is_excluded():
    result = _rank("24GiB")
    excluded = {e.model_id: e.reason for e in result.excluded}
    assert "microsoft/Phi-3-mini-4k-instruct" in excluded
    assert "4,096" in excluded["microsoft/Phi-3-mini-4k-instruct"]
    assert all(c.model_id != "microsoft/Phi-3-mini-4k-instruct" for c in result.candidates)
    short = recommend(budget_from_size("24GiB"), RunSettings(context=4096))
    assert any(c.model_id == "microsoft/Phi-3-mini-4k-instruct" for c in short.candidates)


def test_mmlu_pro_ranks_other_models_and_never_mixes_benchmarks():
    result = _rank("24GiB", benchmark="mmlu-pro")
    assert all(c.quality.score.benchmark.startswith("MMLU-Pro") for c in result.ranked)
    # By hand: Qwen2.5-32B-Instruct publishes MMLU-Pro 69.0; at Q4_K_M (99.59%) that is 68.72, and it fits:
    # 32.76B x ~4.85 bits = 19.9 GB = 18.5 GiB + KV 2 x 64 x 8 x 128 x 2 B x 8,192 = 2 GiB < 23 GiB. Its AWQ
    # retention at 32.76B is the median of 69.0B (100.17), 70.55B (99.71), 72.7B (97.81), 13.0B (99.17)
    # = 99.44% -> 68.61. gemma-3-27b-it (67.5, 0-shot) x 0.9971 = 67.31; Qwen2.5-72B (71.1) needs > 24 GiB.
    assert _pick(result) == ("Qwen/Qwen2.5-32B-Instruct", "q4_k_m")
    assert result.best.quality.expected == pytest.approx(69.0 * 0.9959, abs=0.005)
    assert result.ranked[1].format_id == "awq-int4"
    assert result.ranked[1].quality.expected == pytest.approx(69.0 * 0.9944, abs=0.005)


def test_evidence_is_carried():
    best = _rank("24GiB").best
    score = best.quality.score
    assert score.source.startswith("https://") and score.checkpoint == "google/gemma-3-27b-pt"
    assert best.quality.score_note  # a base checkpoint's score says so
    assert {r.source.url for r in best.quality.retention.evidence} >= {"https://arxiv.org/abs/2411.02355"}
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
    result = recommend(budget_from_size("24GiB", 2), SETTINGS, "llama.cpp")
    assert result.best.model_id == "meta-llama/Llama-3.1-70B-Instruct"
    assert len(result.best.fit.per_gpu) == 2


def test_to_dict_is_plain_json():
    import json

    data = _rank("12GiB").to_dict(top=3)
    assert len(data["ranked"]) == 3 and data["ranked_total"] > 3
    assert data["best"]["model"] == "google/gemma-3-12b-it"
    assert isinstance(data["gpu"]["vram"], int) and data["gpu"]["vram"] == 12 * 2**30
    json.dumps(data)


def test_the_whole_catalog_ranks_in_a_few_seconds():
    _estimate.cache_clear()
    started = time.perf_counter()
    recommend(budget_from_gpu("rtx-4090"), RunSettings(context=16384))
    cold = time.perf_counter() - started
    started = time.perf_counter()
    recommend(budget_from_gpu("rtx-3090"), RunSettings(context=16384))
    warm = time.perf_counter() - started
    assert cold < 10, f"cold ranking took {cold:.1f} s"
    assert warm < cold
