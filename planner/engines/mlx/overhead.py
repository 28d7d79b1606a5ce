"""What an mlx-lm process holds in the Metal working set beyond tensors (banded estimate)."""

from __future__ import annotations

from planner.engines.constants import constant, empirical
from planner.memory.figure import Figure


def overhead_figure() -> Figure:
    """Metal command buffers, kernels and MLX's small-buffer cache (``mlx_overhead_mib``)."""
    c = constant("mlx_overhead_mib")
    low, high = c.band_bytes
    return empirical(
        c.bytes,
        low,
        high,
        f"Metal buffers, kernels and MLX's buffer cache ~{c.value:g} MiB (no CUDA context on Apple GPUs)",
        keys=(),
        source=c.source,
        parts={"metal_runtime": c.bytes},
    )


__all__ = ["overhead_figure"]
