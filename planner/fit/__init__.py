"""Fit answers: a GPU memory budget, and what fits in it (context, batch, format, offload).

Pure core like the rest of ``planner``: the memory arithmetic stays in the engines
(:func:`planner.engines.estimate`); this package compares it with the hardware.

The names below load on first use (PEP 562): importing one module of the package (``planner.fit.budget``)
does not load the solvers, offload and speed models.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from planner.fit.budget import (
        MAX_GPUS,
        Allowance,
        Budget,
        Device,
        FitError,
        budget_for,
        budget_from_gpu,
        budget_from_live,
        budget_from_size,
        charged_bytes,
    )
    from planner.fit.offload import (
        ExpertPlan,
        OffloadPlan,
        cpu_moe_plan,
        expert_bytes_by_layer,
        experts_on_cpu,
        offload_plan,
    )
    from planner.fit.solvers import (
        DeviceFit,
        FitResult,
        FormatOption,
        KvCapacity,
        Limit,
        best_format,
        fit_estimate,
        fits,
        max_batch,
        max_context,
        representative_formats,
        vllm_kv_capacity,
    )

_WHERE = {
    "MAX_GPUS": "planner.fit.budget",
    "Allowance": "planner.fit.budget",
    "Budget": "planner.fit.budget",
    "Device": "planner.fit.budget",
    "FitError": "planner.fit.budget",
    "budget_for": "planner.fit.budget",
    "budget_from_gpu": "planner.fit.budget",
    "budget_from_live": "planner.fit.budget",
    "budget_from_size": "planner.fit.budget",
    "charged_bytes": "planner.fit.budget",
    "ExpertPlan": "planner.fit.offload",
    "OffloadPlan": "planner.fit.offload",
    "cpu_moe_plan": "planner.fit.offload",
    "expert_bytes_by_layer": "planner.fit.offload",
    "experts_on_cpu": "planner.fit.offload",
    "offload_plan": "planner.fit.offload",
    "DeviceFit": "planner.fit.solvers",
    "FitResult": "planner.fit.solvers",
    "FormatOption": "planner.fit.solvers",
    "KvCapacity": "planner.fit.solvers",
    "Limit": "planner.fit.solvers",
    "best_format": "planner.fit.solvers",
    "fit_estimate": "planner.fit.solvers",
    "fits": "planner.fit.solvers",
    "max_batch": "planner.fit.solvers",
    "max_context": "planner.fit.solvers",
    "representative_formats": "planner.fit.solvers",
    "vllm_kv_capacity": "planner.fit.solvers",
}

__all__ = [
    "MAX_GPUS",
    "Allowance",
    "Budget",
    "Device",
    "DeviceFit",
    "ExpertPlan",
    "FitError",
    "FitResult",
    "FormatOption",
    "KvCapacity",
    "Limit",
    "OffloadPlan",
    "best_format",
    "budget_for",
    "budget_from_gpu",
    "budget_from_live",
    "budget_from_size",
    "charged_bytes",
    "cpu_moe_plan",
    "expert_bytes_by_layer",
    "experts_on_cpu",
    "fit_estimate",
    "fits",
    "max_batch",
    "max_context",
    "offload_plan",
    "representative_formats",
    "vllm_kv_capacity",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'planner.fit' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
