"""Best pick per bit width and the 16-bit vs larger 4-bit trade-off, on rankings worked out by hand."""

import pytest

from planner.fit import budget_from_size
from planner.memory.estimate import RunSettings
from planner.recommend import Filters, recommend
from planner.recommend.summary import best_per_bit_width, sixteen_vs_larger_four


def _rank(size, **kwargs):
    return recommend(budget_from_size(size), RunSettings(context=8192), **kwargs)


def test_8_gib_trade_off():
    """8 GiB: best 16-bit is Qwen3.5-2B bf16 (MMLU-Pro 55.3, non-thinking; 2.21B x 2 B = 4.1 GiB of weights,
    its cache 6 gated-attention layers x 2 x 2 KV heads x 256 x 2 B x 8,192 = 96 MiB plus the DeltaNet state,
    then transformers' activations and CUDA overhead [5.47 GiB]); Qwen3.5-4B bf16 (79.1) needs 8.5 GiB of
    weights alone and Qwen2.5-3B-Instruct bf16 fits but scores 43.7. Larger at 4 bits: Qwen3.5-4B (4.54B)
    Q4_K_M, 79.1 x 0.9959 (AutoRound's 7.62-8.19B rows 99.80, 99.32, 99.59) = 78.78: +23.5 points."""
    trade = _rank("8GiB").trade_off
    assert trade.sixteen.model_id == "Qwen/Qwen3.5-2B"
    assert trade.larger_four.model_id == "Qwen/Qwen3.5-4B"
    assert trade.difference == pytest.approx(79.1 * 0.9959 - 55.3, abs=0.005)
    assert trade.larger_four.parameters > trade.sixteen.parameters
    assert "GiB" in trade.text and "23.5 points higher" in trade.text


def test_widths_without_a_fit_or_without_a_ranked_pick():
    result = _rank("8GiB")
    picks = best_per_bit_width(result.candidates, (16, 8, 4, 2, 1))
    assert [p.bit_width for p in picks] == [16, 8, 4, 2, 1]
    by_width = {p.bit_width: p for p in picks}
    assert by_width[1].pick is None and by_width[1].fitting == 0 and "nothing tried" in by_width[1].note
    assert by_width[1].largest is None
    assert (by_width[2].pick.model_id, by_width[2].pick.format_id) == ("Qwen/Qwen3.5-4B", "q2_k")
    assert by_width[2].pick.quality.expected == pytest.approx(79.1 * 68.50 / 71.5, abs=0.005)
    assert (by_width[4].pick.model_id, by_width[4].pick.format_id) == ("Qwen/Qwen3.5-4B", "q4_k_m")
    code = _rank("8GiB", filters=Filters(families=("gpt_bigcode", "mamba2")))  # no MMLU-Pro published
    unranked = {p.bit_width: p for p in code.by_bit_width}[4]
    assert unranked.pick is None and unranked.fitting > 0 and "unranked" in unranked.note
    assert unranked.largest is not None and not unranked.largest.ranked  # the largest is named anyway


def test_no_16_bit_option():
    result = _rank("1GiB")
    trade = sixteen_vs_larger_four([c for c in result.candidates if c.bit_width != 16], "MMLU-Pro")
    assert trade.sixteen is None and trade.difference is None and "No 16-bit option" in trade.text


def test_no_larger_4_bit_model():
    result = _rank("24GiB")
    only_16 = [c for c in result.candidates if c.bit_width == 16]
    trade = sixteen_vs_larger_four(only_16, "MMLU-Pro")
    assert trade.sixteen is not None and trade.larger_four is None
    assert "No larger model" in trade.text
