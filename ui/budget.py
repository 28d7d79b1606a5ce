"""The GPU budget the sidebar's GPU inputs describe (catalog GPU, custom size, or live NVML)."""

from __future__ import annotations

from planner.fit import Budget, FitError, budget_from_gpu, budget_from_live, budget_from_size
from planner.hardware.units import MIN_BARE_BYTES
from ui.sidebar import Plan


def plan_budget(plan: Plan) -> Budget:
    """The budget of ``plan``'s GPU choice; raises a :class:`planner.PlannerError` with a message to show.

    Catalog GPU: the catalog's NVML total; custom size: what was typed; Detected (NVML): the free
    memory NVML reports now on the first ``gpu_count`` GPUs.
    """
    if plan.gpu_source == "Detected (NVML)":
        return budget_from_live(plan.gpu_count)
    if plan.gpu_source == "Custom size":
        if plan.custom_vram_bytes is None:
            raise FitError("the GPU memory in the sidebar is not a size: write it with its unit, e.g. 24GiB")
        if 0 < plan.custom_vram_bytes < MIN_BARE_BYTES:
            raise FitError(
                f"the GPU memory in the sidebar reads as {plan.custom_vram_bytes} bytes; give the unit, "
                "e.g. 24GiB (x 2^30 bytes) or 24GB (x 10^9 bytes)"
            )
        return budget_from_size(plan.custom_vram_bytes, plan.gpu_count)
    if plan.gpu is None:
        raise FitError("pick a GPU in the sidebar")
    return budget_from_gpu(plan.gpu, plan.gpu_count)


def live_free_bytes(budget: Budget) -> int | None:
    """Free memory on the first device when the budget was read live (its capacity is the free memory)."""
    return budget.devices[0].capacity_bytes if budget.source == "live" else None
