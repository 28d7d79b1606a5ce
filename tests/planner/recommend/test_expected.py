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
    q = expected_quality("bigcode/starcoder", "q4_k_m", 15.5, "mmlu-pro")
    assert q.expected is None and not q.ranked
    assert "no published MMLU-Pro score" in q.reason
    assert "MMLU (5-shot) 29.47 is published" in q.reason  # the leaderboard's v1 MMLU, ranked by mmlu
    assert q.retention.value is not None  # the retention half is still shown


def test_the_publishers_score_comes_before_the_leaderboards():
    """Qwen2.5-7B-Instruct: Qwen prints MMLU-Pro 56.3; the leaderboard's own 5-shot run gives 42.86."""
    q = expected_quality("Qwen/Qwen2.5-7B-Instruct", "bf16", 7.6, "mmlu-pro")
    assert q.score.value == 56.3 and q.expected == pytest.approx(56.3)
    lb = expected_quality("mistralai/Mistral-Nemo-Instruct-2407", "bf16", 12.2, "mmlu-pro")
    assert lb.score.value == pytest.approx(35.17) and "Open LLM Leaderboard" in lb.score.setting
    assert "leaderboard" in lb.score_note.lower()


def test_a_hub_id_outside_the_catalog_has_its_leaderboard_score():
    q = expected_quality("Qwen/Qwen2.5-Coder-7B-Instruct", "bf16", 7.6, "mmlu-pro")
    assert q.ranked and q.score.checkpoint == "Qwen/Qwen2.5-Coder-7B-Instruct"
    assert expected_quality("fake-org/tiny-llama", "bf16", 0.1, "mmlu-pro").reason.startswith("no published")


def test_kld_translated_format_is_ranked_with_the_translation_range():
    """Q5_K_S: KLD 0.016595 (llama.cpp, Llama 3 8B) between BF16 and UD-Q4_K_XL (KLD 0.023701, 71.47/71.5)."""
    q = expected_quality("meta-llama/Llama-3.1-8B-Instruct", "q5_k_s", 8.03, "mmlu")
    retained = 1 + (71.47 / 71.5 - 1) * 0.016595 / 0.023701
    assert q.retention.basis == "kld" and q.retention_used == pytest.approx(retained, abs=1e-6)
    assert q.expected == pytest.approx(69.4 * retained, abs=1e-4)
    assert q.expected_low == pytest.approx(
        69.4 * 71.47 / 71.5, abs=1e-4
    ) and q.expected_high == pytest.approx(69.4)


def test_unmeasured_format_is_a_reason_not_a_number():
    q = expected_quality("meta-llama/Llama-3.1-8B-Instruct", "exl2-2.5", 8.03, "mmlu")
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
