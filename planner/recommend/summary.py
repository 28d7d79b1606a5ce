"""Plain answers drawn from a ranking: the best and the largest option at each bit width, the Pareto
front of expected quality against memory, and "a larger model at fewer bits vs a smaller one at more".

The last is the widely repeated rule of thumb ("a larger model at 4-bit beats a smaller one at
16-bit in the same memory"), checked on the budget at hand with the published figures, together
with the comparisons where the data says it does not hold (2-bit).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from planner.frozen import record
from planner.hardware.units import format_gib

if TYPE_CHECKING:
    from planner.fit.solvers import Limit
    from planner.recommend.ranking import Candidate

#: (more bits, fewer bits) pairs compared: 16 vs a larger model at 4, and where 2 bits stop paying.
TRADE_OFF_WIDTHS = ((16, 4), (4, 2), (16, 2))


@record
class BitWidthPick:
    """One bit width: the highest-ranked fitting option and the largest model that fits at it.

    ``pick`` is ``None`` with the reason in ``note``; ``fitting`` counts every fitting (model,
    format) pair at this width, ranked or not. ``largest`` is the fitting option with the most
    parameters (ranked or not; ties: less memory), ``largest_context`` the longest context it
    leaves on the budget (the max-context solver; ``None`` when not computed).
    """

    bit_width: int
    pick: Candidate | None
    fitting: int
    note: str
    largest: Candidate | None = None
    largest_context: Limit | None = None


@record
class TradeOff:
    """The best ranked pick at ``high`` bits next to the best ranked pick at ``low`` bits of a larger model.

    ``difference`` is the larger model's expected score minus the smaller one's, in benchmark
    points (``None`` when either side is missing); ``text`` says it in words, with numbers.
    ``sixteen``/``larger_four`` keep their names from the first comparison (16 vs 4 bits).
    """

    sixteen: Candidate | None
    larger_four: Candidate | None
    difference: float | None
    text: str
    high: int = 16
    low: int = 4

    @property
    def larger_wins(self) -> bool | None:
        """Whether the larger model at fewer bits is expected to score higher (``None``: no comparison)."""
        return None if self.difference is None else self.difference > 0


def _largest(at: Sequence[Candidate]) -> Candidate | None:
    return min(at, key=lambda c: (-c.parameters, c.fit.required_bytes, c.model_id, c.format_id), default=None)


def best_per_bit_width(
    candidates: Sequence[Candidate], widths: Iterable[int], tried: Iterable[int] | None = None
) -> tuple[BitWidthPick, ...]:
    """For each width (highest first): the first ranked candidate at it (or why there is none), and the largest.

    ``candidates`` must already be in ranking order (ranked first). ``tried`` are the widths of the
    formats tried (all of ``widths`` when ``None``), so an empty row says whether nothing fit or
    nothing of that width was tried.
    """
    tried_widths = set(widths if tried is None else tried)
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
        elif width in tried_widths:
            pick = None
            note = f"nothing tried at {width}-bit fits"
        else:
            pick = None
            have = ", ".join(str(w) for w in sorted(tried_widths, reverse=True))
            note = f"no {width}-bit format was tried (the formats tried are {have}-bit)"
        out.append(BitWidthPick(width, pick, len(at), note, _largest(at)))
    return tuple(out)


def pareto_front(candidates: Sequence[Candidate]) -> tuple[Candidate, ...]:
    """Ranked options no other ranked option beats on both counts (less GPU memory, higher expected quality).

    Ordered by memory, cheapest first; each next point needs more memory and is expected to score higher.
    """
    ranked = sorted(
        (c for c in candidates if c.ranked),
        key=lambda c: (c.fit.required_bytes, -c.quality.expected, c.model_id, c.format_id),
    )
    front: list[Candidate] = []
    for c in ranked:
        if not front or c.quality.expected > front[-1].quality.expected:
            front.append(c)
    return tuple(front)


def _describe(c: Candidate) -> str:
    q = c.quality
    return (
        f"{c.model_id} ({c.parameters / 1e9:.1f}B) in {c.format_id}: {q.score.value:g} x {q.retention_used:.4f} "
        f"= {q.expected:.1f}, needs {format_gib(c.fit.required_bytes)}"
    )


def larger_at_fewer_bits(
    candidates: Sequence[Candidate], benchmark_label: str, high: int, low: int
) -> TradeOff:
    """The best ranked ``high``-bit pick vs the best ranked ``low``-bit pick of a model with more parameters."""
    ranked = [c for c in candidates if c.ranked]
    small = next((c for c in ranked if c.bit_width == high), None)
    if small is None:
        return TradeOff(
            None, None, None, f"No {high}-bit option with a published score fits this budget.", high, low
        )
    large = next((c for c in ranked if c.bit_width == low and c.parameters > small.parameters), None)
    if large is None:
        return TradeOff(
            small,
            None,
            None,
            f"Best {high}-bit: {_describe(small)}. No larger model with a published score fits at {low}-bit.",
            high,
            low,
        )
    diff = large.quality.expected - small.quality.expected
    if diff > 0:
        verdict = f"the larger model at {low}-bit is expected to score {diff:.1f} points higher"
    elif diff < 0:
        verdict = f"the {high}-bit model is expected to score {-diff:.1f} points higher"
    else:
        verdict = "both are expected to score the same"
    text = (
        f"Best {high}-bit: {_describe(small)}. Best {low}-bit of a larger model: {_describe(large)}. "
        f"On {benchmark_label}, {verdict}."
    )
    return TradeOff(small, large, diff, text, high, low)


def sixteen_vs_larger_four(candidates: Sequence[Candidate], benchmark_label: str) -> TradeOff:
    """The best ranked 16-bit pick vs the best ranked 4-bit pick of a model with more parameters."""
    return larger_at_fewer_bits(candidates, benchmark_label, 16, 4)


__all__ = [
    "TRADE_OFF_WIDTHS",
    "BitWidthPick",
    "TradeOff",
    "best_per_bit_width",
    "larger_at_fewer_bits",
    "pareto_front",
    "sixteen_vs_larger_four",
]
