"""What a vLLM process holds beyond tensors (v0.19.0): CUDA context, non-torch memory, CUDA graphs (banded)."""

from __future__ import annotations

from planner.engines.constants import constant, empirical
from planner.memory.figure import Figure

SRC_WORKER = (
    "vllm-project/vllm v0.19.0 vllm/v1/worker/gpu_worker.py (Worker.init_device, determine_available_memory)"
)


def non_torch(tp: int) -> Figure:
    """``non_torch_increase``: memory outside torch's allocator that appears after the init snapshot.

    # NOTE: the snapshot is taken after the CUDA context and NCCL communicators exist
    # (``init_device``), so what remains is attention-backend and kernel workspaces, plus with
    # tensor parallelism the custom all-reduce IPC buffers and NCCL's lazily allocated buffers
    # (about 2 GiB per rank in the public v0.19 logs). Fitted on public logs.
    """
    name = "vllm_non_torch_tp_mib" if tp > 1 else "vllm_non_torch_mib"
    c = constant(name)
    low, high = c.band_bytes
    return empirical(
        c.bytes,
        low,
        high,
        f"non-torch memory after the init snapshot at tensor parallel {tp}: {c.value:g} MiB ({name})",
        keys=("tensor_parallel",),
        source=c.source,
        parts={"non_torch": c.bytes},
    )


def cuda_graphs(enforce_eager: bool) -> Figure:
    """CUDA graph pool captured after the KV cache (``capture_model``), 0 with ``--enforce-eager``."""
    if enforce_eager:
        return Figure(0, "--enforce-eager: no CUDA graphs", keys=("enforce_eager",), source=SRC_WORKER)
    c = constant("vllm_cudagraph_mib")
    low, high = c.band_bytes
    return empirical(
        c.bytes,
        low,
        high,
        f"CUDA graphs for the default capture sizes (1, 2, 4, 8..256 by 8, 272..512 by 16): {c.value:g} MiB",
        keys=("enforce_eager", "max_num_seqs"),
        source=c.source,
        parts={"cuda_graphs": c.bytes},
    )


def overhead_figure(*, tp: int = 1, enforce_eager: bool = False) -> Figure:
    """CUDA context (before the init snapshot) + non-torch memory + CUDA graphs (after the KV cache)."""
    ctx = constant("cuda_context_mib")
    nt, cg = non_torch(tp), cuda_graphs(enforce_eager)
    return empirical(
        ctx.bytes + nt.bytes + cg.bytes,
        ctx.band_bytes[0] + nt.band[0] + cg.band[0],
        ctx.band_bytes[1] + nt.band[1] + cg.band[1],
        f"CUDA context {ctx.value:g} MiB + non-torch memory {nt.bytes / (1 << 20):.0f} MiB + CUDA graphs "
        f"{cg.bytes / (1 << 20):.0f} MiB" + (" (--enforce-eager)" if enforce_eager else ""),
        keys=("enforce_eager", "tensor_parallel"),
        source=f"{ctx.source}; {nt.source}; {cg.source if cg.source else SRC_WORKER}",
        parts={"cuda_context": ctx.bytes, "non_torch": nt.bytes, "cuda_graphs": cg.bytes},
    )


__all__ = ["SRC_WORKER", "cuda_graphs", "non_torch", "overhead_figure"]
