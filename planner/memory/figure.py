"""A memory figure that can explain itself: bytes, the rule that produced them, and how sure we are."""

from __future__ import annotations

from dataclasses import field

from planner.frozen import record


@record
class Figure:
    """Bytes of one memory component with its derivation.

    ``rule`` is a short human-readable derivation (the formula with the numbers put in); it may be
    given as a zero-argument function that makes it, called on first read (an estimate inside a
    solver's search is never explained, so its text is never made);
    ``keys`` names the config keys and settings it read; ``source`` cites the engine
    source or measurement behind an empirical term. ``low``/``high`` bound an empirical
    figure (equal to ``bytes`` for exact arithmetic).
    """

    bytes: int
    rule: str
    keys: tuple[str, ...] = ()
    source: str | None = None
    exact: bool = True
    low: int | None = None
    high: int | None = None
    parts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.bytes < 0:
            raise ValueError(f"negative memory figure: {self.bytes}")

    @property
    def band(self) -> tuple[int, int]:
        """``(low, high)``: the uncertainty band (a point for exact figures)."""
        return (self.bytes if self.low is None else self.low, self.bytes if self.high is None else self.high)

    def as_dict(self) -> dict[str, object]:
        """Plain data for JSON output."""
        low, high = self.band
        return {
            "bytes": self.bytes,
            "rule": self.rule,
            "keys": list(self.keys),
            "source": self.source,
            "exact": self.exact,
            "low": low,
            "high": high,
            "parts": dict(self.parts),
        }


class _LazyText:
    """The ``rule`` slot of :class:`Figure`: a function stored there is called once, on first read."""

    __slots__ = ("slot",)

    def __init__(self, slot) -> None:
        self.slot = slot

    def __get__(self, obj, cls=None):
        if obj is None:
            return self
        value = self.slot.__get__(obj, cls)
        if callable(value):
            value = value()
            self.slot.__set__(obj, value)
        return value

    def __set__(self, obj, value) -> None:
        self.slot.__set__(obj, value)


Figure.rule = _LazyText(Figure.__dict__["rule"])  # type: ignore[assignment]

ZERO = Figure(0, "none")
