"""Best pick per bit width and the 16-bit vs larger 4-bit trade-off, on rankings worked out by hand."""

import pytest

from planner.fit import budget_from_size
from planner.memory.estimate import RunSettings
from planner.recommend import recommend
from planner.recommend.summary import best_per_bit_width, sixteen_vs_larger_four


def _rank(size):
    return recommend(budget_from_size(size), RunSettings(context=8192))


def test_8_gib_trade_off():
    """8 GiB: best 16-bit is gemma-2-2b-it bf16 (MMLU 51.3; 2.61B x 2 B = 4.9 GiB of weights, at most
    2 x 26 x 4 x 256 x 2 B x 8,192 = 0.8 GiB of KV, plus transformers' activations and CUDA overhead);
    Llama-3.2-3B bf16 (63.4) needs 6.0 GiB of weights + 0.9 GiB KV + ~1.2 GiB overhead > 8. Larger at 4 bits: Llama-3.1-8B-Instruct q4_k_m, 69.4 x 0.9959 = 69.12:
    +17.8 points."""
    trade = _rank("8GiB").trade_off
    assert trade.sixteen.model_id == "google/gemma-2-2b-it"
    assert trade.larger_four.model_id == "meta-llama/Llama-3.1-8B-Instruct"
    assert trade.difference == pytest.approx(69.4 * 0.9959 - 51.3, abs=0.005)
    assert trade.larger_four.parameters > trade.sixteen.parameters
    assert "GiB" in trade.text and "17.8 points higher" in trade.text


def test_widths_without_a_fit_or_without_a_ranked_pick():
    result = _rank("8GiB")
    picks = best_per_bit_width(result.candidates, (16, 8, 4, 2, 1))
    assert [p.bit_width for p in picks] == [16, 8, 4, 2, 1]
    by_width = {p.bit_width: p for p in picks}
    assert by_width[1].pick is None and by_width[1].fitting == 0 and "nothing tried" in by_width[1].note
    assert by_width[2].pick is None and by_width[2].fitting > 0 and "unranked" in by_width[2].note
    assert by_width[4].pick is result.best


def test_no_16_bit_option():
    result = _rank("1GiB")
    trade = sixteen_vs_larger_four([c for c in result.candidates if c.bit_width != 16], "MMLU (5-shot)")
    assert trade.sixteen is None and trade.difference is None and "No 16-bit option" in trade.text


def test_no_larger_4_bit_model():
    result = _rank("24GiB")
    only_16 = [c for c in result.candidates if c.bit_width == 16]
    trade = sixteen_vs_larger_four(only_16, "MMLU (5-shot)")
    assert trade.sixteen is not None and trade.larger_four is None
    assert "No larger model" in trade.text
