"""What llama.cpp holds for ``--lora`` adapters and a ``-md`` draft model, each as its own component.

* LoRA (``--lora FNAME``, comma-separated for several; tools/server/README.md @00dc8057): every
  adapter is loaded whole; per targeted linear ``[out, in]`` it holds ``lora_a`` ``[rank, in]`` and
  ``lora_b`` ``[out, rank]`` in the adapter GGUF's type, F32 unless converted otherwise
  (convert_lora_to_gguf.py ``--outtype`` default ``f32`` @0b03adaa). An adapter tensor follows its
  base layer's buffer (GPU for offloaded layers).
* Draft (``--spec-draft-model``/``-md``, ``--spec-draft-ngl`` default auto = all, draft cache types
  ``--spec-draft-type-k/-v`` default f16): a second model with its own weights (placed like any
  model: input layer on the CPU), its own KV cache for the same slots and its own compute buffer,
  in the same process (no second CUDA context).
"""

from __future__ import annotations

from planner.engines.common import draft_note, draft_parts, lora_elements_by_layer
from planner.engines.llamacpp.weights import first_gpu_layer
from planner.hardware.units import format_short
from planner.memory.estimate import Component, RunSettings
from planner.memory.figure import Figure
from planner.model.spec import ModelSpec

#: convert_lora_to_gguf.py --outtype default (f32): 4 bytes per element.
LORA_ELEMENT_BYTES = 4
LORA_SOURCE = (
    "ggml-org/llama.cpp tools/server/README.md @00dc8057 (--lora FNAME, comma-separated for several adapters); "
    "convert_lora_to_gguf.py @0b03adaa (lora_a/lora_b per base tensor, --outtype default f32)"
)
DRAFT_SOURCE = (
    "ggml-org/llama.cpp tools/server/README.md @00dc8057 (--spec-draft-model/-md, --spec-draft-ngl default auto, "
    "--spec-draft-type-k/-v default f16)"
)


def lora_component(spec: ModelSpec, settings: RunSettings, engine: str = "llama.cpp") -> Component:
    """``max_loras`` adapters of rank ``lora_rank`` on every decoder linear, split like their layers (-ngl)."""
    rank = settings.lora_rank or 16
    count = settings.max_loras or 1
    per_layer = lora_elements_by_layer(spec, rank, fused_slices=False)
    n_layer = spec.num_layers
    ngl = n_layer + 1 if settings.gpu_layers is None else min(settings.gpu_layers, n_layer + 1)
    start = first_gpu_layer(n_layer, ngl)
    gpu = sum(e for il, e in per_layer.items() if il >= start) * LORA_ELEMENT_BYTES * count
    host = sum(e for il, e in per_layer.items() if il < start) * LORA_ELEMENT_BYTES * count
    per_adapter = sum(per_layer.values()) * LORA_ELEMENT_BYTES
    rule = (
        f"{count} adapter(s) x rank {rank} on every decoder linear (attention + MLP, 'all-linear'): "
        f"rank x (in + out) F32 elements per linear = {format_short(per_adapter)} per adapter"
        + (f"; the {start} layers on the CPU keep theirs in host memory" if start else "")
    )
    keys = ("lora_rank", "max_loras", "gpu_layers")
    return Component(
        "lora",
        Figure(gpu, rule, keys=keys, source=LORA_SOURCE, parts={"lora_adapters": gpu}),
        Figure(
            host, f"adapters of the {start} CPU layers" if host else "no adapter in host memory", keys=keys
        ),
    )


def draft_component(engine: object, spec: ModelSpec, settings: RunSettings) -> Component:
    """The draft model run by llama.cpp beside the target: weights, KV and compute buffer (its own estimate)."""
    draft = settings.draft
    assert draft is not None
    est, gpu, host = draft_parts(engine, spec, settings, with_buffers=True)
    gpu_total, host_total = sum(gpu.values()), sum(host.values())
    rule = (
        f"draft {draft.spec.name} in {draft.format.id} for {settings.batch} slot(s) x {settings.context:,} tokens: "
        f"weights {format_short(gpu['draft_weights'])} + KV {format_short(gpu['draft_kv_cache'])} "
        f"({est.kv_dtype}) + compute buffer {format_short(gpu['draft_compute_buffer'])}"
    )
    warning = draft_note(spec, draft.spec)
    if warning:
        rule += f"; {warning}"
    low = est.weights.band[0] + est.kv_cache.band[0] + est.activations.band[0]
    high = est.weights.band[1] + est.kv_cache.band[1] + est.activations.band[1]
    keys = ("draft_model", "draft_format", "context", "batch")
    gpu_fig = Figure(
        gpu_total,
        rule,
        keys=keys,
        source=DRAFT_SOURCE,
        exact=est.activations.exact,
        low=low,
        high=high,
        parts=gpu,
    )
    host_fig = Figure(
        host_total,
        f"draft input layer and CPU buffers {format_short(host_total)}"
        if host_total
        else "nothing in host memory",
        keys=keys,
        parts=host,
    )
    return Component("draft", gpu_fig, host_fig)


__all__ = ["DRAFT_SOURCE", "LORA_ELEMENT_BYTES", "LORA_SOURCE", "draft_component", "lora_component"]
