"""Expected quality = published score x published retention (capped at 100%), or the reason there is none."""

import pytest

from planner.fit import representative_formats
from planner.quality import load_format_quality
from planner.recommend import BENCHMARKS, expected_quality
from planner.recommend.expected import is_native


def test_score_times_retention():
    # Llama-3.1-8B-Instruct: MMLU 69.4 (5-shot, Meta's card); q4_k_m at 8B: median(99.32, 99.80, 99.59) = 99.59%.
    q = expected_quality("meta-llama/Llama-3.1-8B-Instruct", "q4_k_m", 8.03, "mmlu")
    assert q.score.value == 69.4 and q.retention.value == pytest.approx(0.9959)
    assert q.expected == pytest.approx(69.4 * 0.9959)
    assert (q.expected_low, q.expected_high) == pytest.approx((69.4 * 0.9932, 69.4 * 0.9980))
    assert q.reason is None and q.ranked


def test_retention_above_100_percent_counts_as_100():
    # fp8 falls back to fp8-channel: 8.03B rows 99.31 and 101.20 -> median 100.255% -> capped.
    q = expected_quality("meta-llama/Llama-3.1-8B-Instruct", "fp8", 8.03, "mmlu")
    assert q.retention.value == pytest.approx(1.00255)
    assert q.retention_used == 1.0 and q.expected == pytest.approx(69.4)
    assert q.expected_high == pytest.approx(69.4)  # the high end is capped too


def test_16_bit_keeps_everything():
    q = expected_quality("google/gemma-3-27b-it", "bf16", 27.43, "mmlu")
    assert q.retention.basis == "baseline" and q.expected == pytest.approx(78.6)


def test_native_format_keeps_everything():
    table = load_format_quality()
    assert "deepseek-ai/DeepSeek-V3" in table.native["fp8-block"].models
    assert is_native("deepseek-ai/DeepSeek-V3", "fp8-block")
    q = expected_quality("deepseek-ai/DeepSeek-V3", "fp8-block", 671.0, "mmlu")
    assert q.retention_used == 1.0 and q.expected == pytest.approx(87.1)
    # The same format on a model trained in 16 bits uses the published FP8-block rows (99.17, 99.60).
    other = expected_quality("meta-llama/Llama-3.1-8B-Instruct", "fp8-block", 8.03, "mmlu")
    assert other.retention_used == pytest.approx((0.9917 + 0.9960) / 2)


def test_no_published_score_is_a_reason_not_a_number():
    q = expected_quality("Qwen/Qwen3-8B", "q4_k_m", 8.19, "mmlu")
    assert q.expected is None and not q.ranked
    assert "no published MMLU (5-shot) score" in q.reason
    assert q.retention.value is not None  # the retention half is still shown


def test_perplexity_only_format_is_a_reason_not_a_number():
    q = expected_quality("meta-llama/Llama-3.1-8B-Instruct", "q8_0", 8.03, "mmlu")
    assert q.expected is None and q.retention.basis == "perplexity"
    assert "only perplexity/KLD" in q.reason and q.score.value == 69.4


def test_unmeasured_format_is_a_reason_not_a_number():
    q = expected_quality("meta-llama/Llama-3.1-8B-Instruct", "hqq-int8", 8.03, "mmlu")
    assert q.expected is None and q.retention.basis == "none"
    assert "no published measurement" in q.reason


@pytest.mark.parametrize("engine", [None, "transformers", "vllm", "llama.cpp"])
def test_every_candidate_format_has_a_number_or_a_reason(engine):
    """No default candidate format is ever scored with a made-up figure."""
    for fid in representative_formats(engine):
        for benchmark in BENCHMARKS:
            q = expected_quality("meta-llama/Llama-3.1-70B-Instruct", fid, 70.55, benchmark)
            assert (q.expected is None) == (q.reason is not None), fid
            if q.expected is not None:
                assert q.retention.evidence or q.retention.basis == "baseline", fid
