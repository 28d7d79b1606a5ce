"""What vLLM holds for LoRA serving (``--enable-lora``) and a draft model (``--speculative-config``).

* LoRA: every LoRA-capable linear keeps stacked buffers for ``max_loras`` GPU slots
  (vllm/lora/layers/base_linear.py ``create_lora_weights``): ``lora_a_stacked`` per output slice
  ``[max_loras, 1, max_lora_rank, input_size]`` and ``lora_b_stacked`` ``[max_loras, 1, out_slice,
  max_lora_rank]``, in ``lora_dtype`` (``auto``: the model dtype); a fused q/k/v projection has 3
  slices, a fused gate/up 2 (each with its own ``lora_a``). Defaults ``max_loras`` 1,
  ``max_lora_rank`` 16 (vllm/config/lora.py LoRAConfig @01230b40). The buffers exist whether or
  not adapters are loaded; ``--max-cpu-loras`` adapters wait in host memory.
* Draft model: its weights on the GPU and its layers' KV in the same paged pool, for the same
  sequences (the pool's per-token size grows by the draft's); its forward runs inside the same
  profile pass.
"""

from __future__ import annotations

from planner.engines.common import draft_note, draft_parts, lora_elements_by_layer
from planner.engines.shape import model_dtype
from planner.formats.base import DTYPE_BYTES, QuantFormat
from planner.hardware.units import format_short
from planner.memory.estimate import Component, RunSettings
from planner.memory.figure import Figure
from planner.model.spec import ModelSpec

LORA_SOURCE = (
    "vllm-project/vllm vllm/lora/layers/base_linear.py create_lora_weights (lora_a_stacked [max_loras, 1, rank, in], "
    "lora_b_stacked [max_loras, 1, out, rank] per slice) @1ace43ed; vllm/config/lora.py LoRAConfig (max_lora_rank 16, "
    "max_loras 1, lora_dtype auto = model dtype) @01230b40"
)
DRAFT_SOURCE = (
    "vllm-project/vllm --speculative-config {'model': ..., 'num_speculative_tokens': N} (draft model runner)"
)


def lora_component(spec: ModelSpec, fmt: QuantFormat, settings: RunSettings) -> Component:
    """``max_loras`` slots of rank ``max_lora_rank`` on every LoRA-capable linear, in the model dtype."""
    rank = settings.lora_rank or 16
    slots = settings.max_loras or 1
    dtype = model_dtype(fmt)
    per_layer = lora_elements_by_layer(spec, rank, fused_slices=True)
    elements = sum(per_layer.values())
    total = elements * slots * DTYPE_BYTES.get(dtype, 2)
    rule = (
        f"{slots} slot(s) x rank {rank} on every decoder linear: per linear rank x (slices x in + out) {dtype} "
        f"elements = {format_short(total // slots)} per slot (routed experts not counted)"
    )
    return Component(
        "lora",
        Figure(
            total,
            rule,
            keys=("lora_rank", "max_loras"),
            source=LORA_SOURCE,
            parts={"lora_stacked_buffers": total},
        ),
    )


def draft_component(engine: object, spec: ModelSpec, settings: RunSettings) -> Component:
    """The draft's weights and its KV pages for the same sequences (same cache dtype)."""
    draft = settings.draft
    assert draft is not None
    est, gpu, _ = draft_parts(engine, spec, settings, with_buffers=False)
    rule = (
        f"draft {draft.spec.name} in {draft.format.id}: weights {format_short(gpu['draft_weights'])} + its KV pages "
        f"for {settings.batch} x {settings.context:,} tokens {format_short(gpu['draft_kv_cache'])} ({est.kv_dtype})"
    )
    warning = draft_note(spec, draft.spec)
    if warning:
        rule += f"; {warning}"
    return Component(
        "draft",
        Figure(
            sum(gpu.values()),
            rule,
            keys=("draft_model", "draft_format", "context", "batch"),
            source=DRAFT_SOURCE,
            parts=gpu,
        ),
    )


__all__ = ["DRAFT_SOURCE", "LORA_SOURCE", "draft_component", "lora_component"]
