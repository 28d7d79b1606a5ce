"""Errors of the hardware package, all under :class:`planner.errors.PlannerError`."""

from __future__ import annotations

from planner.errors import PlannerError


class HardwareError(PlannerError):
    """Base class for GPU catalog, GPU lookup and size-parsing failures."""


class GpuCatalogError(HardwareError):
    """``data/gpus.json`` is malformed (a bug in ``data/``, caught by the tests)."""


class UnknownGpuError(HardwareError):
    """No catalog GPU matches the name; ``suggestions`` holds close names (maybe empty)."""

    def __init__(self, query: str, suggestions: tuple[str, ...] = ()) -> None:
        self.query = query
        self.suggestions = suggestions
        hint = f"; did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"no GPU in the catalog matches '{query}'{hint}")


class AmbiguousGpuError(HardwareError):
    """Several catalog GPUs match the name; ``candidates`` holds their ids."""

    def __init__(self, query: str, candidates: tuple[str, ...], names: tuple[str, ...] = ()) -> None:
        self.query = query
        self.candidates = candidates
        shown = names or candidates
        more = f" and {len(shown) - 12} more" if len(shown) > 12 else ""
        super().__init__(f"'{query}' matches several GPUs: {', '.join(shown[:12])}{more}; be more specific")


class SizeError(HardwareError):
    """A memory size that cannot be read (garbage, negative, ambiguous unit, absurd)."""
