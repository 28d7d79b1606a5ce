"""Where llama.cpp puts each tensor: ``-ngl`` layers from the tail on the GPU, the input layer on the CPU.

Placement follows ``llama_model::load_tensors`` (src/llama-model.cpp):

* the input layer (``token_embd``) always stays on the CPU: "there is very little benefit
  to offloading the input layer, so always keep it on the CPU";
* ``i_gpu_start = max(n_layer + 1 - n_gpu_layers, 0)``: layers ``il >= i_gpu_start`` go to the
  GPU, counted from the tail, and the output layer (``il == n_layer``: ``output.weight`` and
  ``output_norm``) is the first one offloaded (``-ngl 1`` offloads only the output); the
  default ``n_gpu_layers = -1`` means ``n_layer + 1``, everything;
* a tied model has no ``output.weight``: llama.cpp loads ``token_embd`` a second time as the
  output (``TENSOR_DUPLICATED``), so it is on the host *and* on the GPU.
"""

from __future__ import annotations

from planner.formats.base import WeightsReport
from planner.hardware.units import format_short
from planner.memo import per_object
from planner.memory.figure import Figure
from planner.model.spec import ModelSpec, Role

INPUT_ROLES = frozenset({Role.EMBEDDING, Role.POSITION_EMBEDDING})
MMPROJ_ROLES = frozenset({Role.VISION, Role.PROJECTOR})


def first_gpu_layer(n_layer: int, ngl: int) -> int:
    """The first layer index on the GPU: ``max(n_layer + 1 - n_gpu_layers, 0)`` (load_tensors)."""
    return max(n_layer + 1 - ngl, 0)


@per_object()
def has_mmproj(report: WeightsReport) -> bool:
    """Whether the report holds a vision tower or projector (the mmproj file)."""
    return any(t.group.role in MMPROJ_ROLES for t in report.tensors)


@per_object(objects=2)
def placement(
    spec: ModelSpec, report: WeightsReport, i_gpu_start: int, output_on_gpu: bool, ngl: int
) -> tuple[Figure, Figure, int]:
    """GPU and host weight figures, and the largest per-layer tensor group kept on the CPU."""
    gpu: dict[str, int] = {}
    host: dict[str, int] = {}
    largest_cpu = 0
    embedding = 0
    has_output = False
    for t in report.tensors:
        role = t.group.role
        if role is Role.LM_HEAD:
            has_output = True
        if role in INPUT_ROLES:
            host["input_layer"] = host.get("input_layer", 0) + t.bytes
            if role is Role.EMBEDDING:
                embedding += t.bytes
        elif t.group.layers:
            n = len(t.group.layers)
            on_gpu = sum(1 for il in t.group.layers if il >= i_gpu_start)
            g = t.bytes * on_gpu // n
            if g:
                gpu["layers"] = gpu.get("layers", 0) + g
            if t.bytes - g:
                host["layers"] = host.get("layers", 0) + t.bytes - g
                largest_cpu = max(largest_cpu, t.bytes // n)
        elif role in MMPROJ_ROLES:
            gpu["mmproj"] = gpu.get("mmproj", 0) + t.bytes
        else:  # output layer: output.weight, output_norm (and any other non-repeating tensor)
            target = gpu if output_on_gpu else host
            target["output_layer"] = target.get("output_layer", 0) + t.bytes
    if not has_output and embedding and output_on_gpu:  # tied: token_embd duplicated as the GPU output
        gpu["output_layer"] = gpu.get("output_layer", 0) + embedding
    # (on the CPU the duplicate maps the same GGUF bytes: no extra host memory with mmap)
    gpu_total, host_total = sum(gpu.values()), sum(host.values())
    n_layer = spec.num_layers
    on_gpu = max(n_layer - i_gpu_start, 0)
    where = f"{on_gpu}/{n_layer} repeating layers" + (" + output layer" if output_on_gpu else "")
    tied = (
        " (tied: token_embd duplicated as output)" if not has_output and embedding and output_on_gpu else ""
    )
    weights = Figure(
        gpu_total,
        f"-ngl {ngl}: {where} on the GPU{tied}; i_gpu_start = max(n_layer + 1 - ngl, 0) = {i_gpu_start} "
        f"= {format_short(gpu_total)}",
        keys=("format", "gpu_layers"),
        source="llama.cpp src/llama-model.cpp load_tensors (get_layer_buft_list, dev_output, TENSOR_DUPLICATED)",
        parts=gpu,
    )
    host_fig = Figure(
        host_total,
        f"input layer (token_embd) always on the CPU{'; ' + str(min(i_gpu_start, n_layer)) + ' repeating layers on the CPU' if i_gpu_start else ''}"
        f"{'; output layer on the CPU' if not output_on_gpu else ''} = {format_short(host_total)}",
        keys=("format", "gpu_layers"),
        source="llama.cpp src/llama-model.cpp: 'there is very little benefit to offloading the input layer, so always keep it on the CPU'",
        parts=host,
    )
    return weights, host_fig, largest_cpu
