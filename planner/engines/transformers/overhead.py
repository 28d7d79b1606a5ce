"""What a transformers process holds beyond tensors: CUDA context, cuBLAS workspaces, allocator slack (banded)."""

from __future__ import annotations

from planner.engines.constants import constant, empirical
from planner.hardware.units import format_short
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
    point = ctx.bytes + kern.bytes + s_point
    low = ctx.band_bytes[0] + kern.band_bytes[0] + s_low
    high = ctx.band_bytes[1] + kern.band_bytes[1] + s_high
    rule = (
        f"outside torch (CUDA context, kernel modules) {ctx.value:g} MiB + cuBLAS workspaces in torch's "
        f"allocator {kern.value:g} MiB + "
        f"caching-allocator slack {slack.value:g} x (KV + activations) {format_short(s_point)}"
    )
    return empirical(
        point,
        low,
        high,
        rule,
        keys=(),
        source=f"{ctx.source}; {kern.source}; {slack.source}",
        parts={"cuda_context": ctx.bytes, "cublas_and_kernels": kern.bytes, "allocator_slack": s_point},
    )
