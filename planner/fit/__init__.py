"""Fit answers: a GPU memory budget, and what fits in it (context, batch, format, offload).

Pure core like the rest of ``planner``: the memory arithmetic stays in the engines
(:func:`planner.engines.estimate`); this package compares it with the hardware.
"""

from __future__ import annotations

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
