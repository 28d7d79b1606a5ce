"""What a transformers process holds beyond tensors: CUDA context, cuBLAS workspaces, allocator slack (banded)."""

from __future__ import annotations

from functools import partial

from planner.engines.constants import Constant, constant, empirical
from planner.hardware.units import format_short
from planner.memo import per_object
from planner.memory.figure import Figure


def overhead_figure(dynamic: int) -> Figure:
    """What the process holds beyond tensors: outside torch, cuBLAS workspaces, allocator slack.

    Fitted on GPU records (planner/calibration.py, data/measurements/*/calibration.json).

    # NOTE: calibrate (cuda_context_mib, torch_kernels_workspace_mib, torch_allocator_slack_fraction).
    """
    ctx = constant("cuda_context_mib")
    kern = constant("torch_kernels_workspace_mib")
    slack = constant("torch_allocator_slack_fraction")
    s_point, s_low, s_high = slack.scale(dynamic)
    fixed, fixed_low, fixed_high, source = _fixed(ctx, kern, slack)
    point, low, high = fixed + s_point, fixed_low + s_low, fixed_high + s_high

    rule = partial(_rule, ctx.value, kern.value, slack.value, s_point)  # made on first read

    return empirical(
        point,
        low,
        high,
        rule,
        keys=(),
        source=source,
        parts={"cuda_context": ctx.bytes, "cublas_and_kernels": kern.bytes, "allocator_slack": s_point},
    )


def _rule(ctx: float, kern: float, slack: float, slack_bytes: int) -> str:
    return (
        f"outside torch (CUDA context, kernel modules) {ctx:g} MiB + cuBLAS workspaces in torch's "
        f"allocator {kern:g} MiB + "
        f"caching-allocator slack {slack:g} x (KV + activations) {format_short(slack_bytes)}"
    )


@per_object(objects=3, maxsize=8)
def _fixed(ctx: Constant, kern: Constant, slack: Constant) -> tuple[int, int, int, str]:
    """The parts that do not grow with KV and activations, for one reading of the constants."""
    return (
        ctx.bytes + kern.bytes,
        ctx.band_bytes[0] + kern.band_bytes[0],
        ctx.band_bytes[1] + kern.band_bytes[1],
        f"{ctx.source}; {kern.source}; {slack.source}",
    )
