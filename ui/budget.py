"""The GPU budget of the sidebar's plan: the core's one budget function applied to the plan's request."""

from __future__ import annotations

from planner.fit import Budget, FitError
from planner.request import resolve_budget
from ui.sidebar import Plan


def plan_budget(plan: Plan) -> Budget:
    """The budget of ``plan``'s GPU choice; raises a :class:`planner.PlannerError` with a message to show.

    Catalog GPU: the catalog's NVML total; custom size: what was typed; Detected (NVML): the free
    memory NVML reports now on the first ``gpus`` GPUs.
    """
    budget = resolve_budget(plan.request)
    if budget is None:  # pragma: no cover - the sidebar always names a GPU source
        raise FitError("pick a GPU in the sidebar")
    return budget


def live_free_bytes(budget: Budget) -> int | None:
    """Free memory on the first device when the budget was read live (its capacity is the free memory)."""
    return budget.devices[0].capacity_bytes if budget.source == "live" else None
