"""Two plain answers drawn from a ranking: the best pick at each bit width, and 16-bit vs a larger 4-bit model.

The second is the widely repeated rule of thumb ("a larger model at 4-bit beats a smaller one at
16-bit in the same memory"), checked on the budget at hand with the published figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from planner.hardware.units import format_gib

if TYPE_CHECKING:
    from planner.recommend.ranking import Candidate


@dataclass(frozen=True, slots=True)
class BitWidthPick:
    """The highest-ranked fitting option at one bit width (``pick`` is ``None`` with the reason in ``note``).

    ``fitting`` counts every fitting (model, format) pair at this width, ranked or not.
    """

    bit_width: int
    pick: Candidate | None
    fitting: int
    note: str


@dataclass(frozen=True, slots=True)
class TradeOff:
    """The best 16-bit pick next to the best ~4-bit pick of a model with more parameters.

    ``difference`` is the 4-bit pick's expected score minus the 16-bit pick's, in benchmark
    points (``None`` when either side is missing); ``text`` says it in words, with numbers.
    """

    sixteen: Candidate | None
    larger_four: Candidate | None
    difference: float | None
    text: str


def best_per_bit_width(candidates: Sequence[Candidate], widths: Iterable[int]) -> tuple[BitWidthPick, ...]:
    """For each width (highest first): the first ranked candidate at it, or why there is none.

    ``candidates`` must already be in ranking order (ranked first).
    """
    out = []
    for width in sorted(set(widths), reverse=True):
        at = [c for c in candidates if c.bit_width == width]
        ranked = [c for c in at if c.ranked]
        if ranked:
            pick = ranked[0]
            note = f"{pick.model_id} {pick.format_id}: expected {pick.quality.expected:.1f}"
        elif at:
            pick = None
            note = (
                f"{len(at)} option(s) fit at {width}-bit, but none has both a published score and a published "
                "accuracy retention; they are listed unranked"
            )
        else:
            pick = None
            note = f"nothing tried at {width}-bit fits"
        out.append(BitWidthPick(width, pick, len(at), note))
    return tuple(out)


def _describe(c: Candidate) -> str:
    q = c.quality
    return (
        f"{c.model_id} ({c.parameters / 1e9:.1f}B) in {c.format_id}: {q.score.value:g} x {q.retention_used:.4f} "
        f"= {q.expected:.1f}, needs {format_gib(c.fit.required_bytes)}"
    )


def sixteen_vs_larger_four(candidates: Sequence[Candidate], benchmark_label: str) -> TradeOff:
    """The best ranked 16-bit pick vs the best ranked 4-bit pick of a model with more parameters."""
    ranked = [c for c in candidates if c.ranked]
    sixteen = next((c for c in ranked if c.bit_width == 16), None)
    if sixteen is None:
        return TradeOff(None, None, None, "No 16-bit option with a published score fits this budget.")
    four = next((c for c in ranked if c.bit_width == 4 and c.parameters > sixteen.parameters), None)
    if four is None:
        return TradeOff(
            sixteen,
            None,
            None,
            f"Best 16-bit: {_describe(sixteen)}. No larger model with a published score fits at 4-bit.",
        )
    diff = four.quality.expected - sixteen.quality.expected
    if diff > 0:
        verdict = f"the larger model at 4-bit is expected to score {diff:.1f} points higher"
    elif diff < 0:
        verdict = f"the 16-bit model is expected to score {-diff:.1f} points higher"
    else:
        verdict = "both are expected to score the same"
    text = (
        f"Best 16-bit: {_describe(sixteen)}. Best 4-bit of a larger model: {_describe(four)}. "
        f"On {benchmark_label}, {verdict}."
    )
    return TradeOff(sixteen, four, diff, text)


__all__ = ["BitWidthPick", "TradeOff", "best_per_bit_width", "sixteen_vs_larger_four"]
