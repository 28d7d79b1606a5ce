"""Best pick per bit width and the 16-bit vs larger 4-bit trade-off, on rankings worked out by hand."""

import pytest

from planner.fit import budget_from_size
from planner.memory.estimate import RunSettings
from planner.recommend import Filters, recommend
from planner.recommend.summary import best_per_bit_width, sixteen_vs_larger_four


def _rank(size, **kwargs):
    return recommend(budget_from_size(size), RunSettings(context=8192), **kwargs)


def test_8_gib_trade_off():
    """8 GiB: best 16-bit is Qwen2.5-3B-Instruct bf16 (MMLU-Pro 43.7; 3.09B x 2 B = 5.8 GiB of weights, KV
    2 x 36 x 2 x 128 x 2 B x 8,192 = 0.3 GiB, plus transformers' activations and CUDA overhead); Qwen3-4B
    bf16 (50.58) needs 7.5 GiB of weights alone. Larger at 4 bits: Qwen3-8B Q4_K_M, 56.73 x 0.9959 (AutoRound's
    7.62-8.19B rows 99.80, 99.32, 99.59) = 56.50: +12.8 points."""
    trade = _rank("8GiB").trade_off
    assert trade.sixteen.model_id == "Qwen/Qwen2.5-3B-Instruct"
    assert trade.larger_four.model_id == "Qwen/Qwen3-8B"
    assert trade.difference == pytest.approx(56.73 * 0.9959 - 43.7, abs=0.005)
    assert trade.larger_four.parameters > trade.sixteen.parameters
    assert "GiB" in trade.text and "12.8 points higher" in trade.text


def test_widths_without_a_fit_or_without_a_ranked_pick():
    result = _rank("8GiB")
    picks = best_per_bit_width(result.candidates, (16, 8, 4, 2, 1))
    assert [p.bit_width for p in picks] == [16, 8, 4, 2, 1]
    by_width = {p.bit_width: p for p in picks}
    assert by_width[1].pick is None and by_width[1].fitting == 0 and "nothing tried" in by_width[1].note
    assert by_width[1].largest is None
    assert by_width[2].pick is result.best  # Qwen3-14B Q2_K (test_ranking.py::test_8_gib)
    assert (by_width[4].pick.model_id, by_width[4].pick.format_id) == ("Qwen/Qwen3-8B", "q4_k_m")
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
