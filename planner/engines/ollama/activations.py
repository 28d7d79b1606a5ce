"""The batch Ollama gives llama-server (``-b``/``-ub``), which sizes llama.cpp's compute buffers.

Ollama v0.32.15 server/sched.go: with ``num_batch`` left automatic, a completion model gets
``generationBatchForContext(num_ctx x parallel)``: 2048 above 32768 tokens, 1024 above 4096, else
512; 512 on CUDA with flash attention off (256 on GPUs of 8 GiB or less above 4096 tokens); a large
batch steps down to 1024/512 when the predicted VRAM leaves too little headroom (over 60%/75% of
the available memory, or the 2 GiB / 768 MiB surcharge past 80%). llm/llama_server.go
appendBatchArgs passes it as ``-b N -ub N``. The compute buffers themselves are llama.cpp's rule.
"""

from __future__ import annotations

from planner.hardware.units import GIB, MIB

SOURCE = (
    "ollama/ollama v0.32.15 server/sched.go (automaticGenerationBatch, generationBatchForContext, "
    "generationBatchFits, generationBatchSurcharge), llm/llama_server.go appendBatchArgs (-b N -ub N)"
)
#: (context above which, batch): generationBatchForContext.
BATCH_TIERS = ((32768, 2048), (4096, 1024), (0, 512))
#: Headroom rules of generationBatchFits: batch -> (share of available memory the prediction may use, surcharge).
BATCH_HEADROOM = {2048: (0.60, 2 * GIB), 1024: (0.75, 768 * MIB), 512: (1.0, 0)}


def auto_batch(effective_ctx: int, flash_attn: bool | None) -> int:
    """The batch Ollama picks for ``num_ctx x parallel`` tokens before the headroom check (CUDA assumed)."""
    if flash_attn is False:
        return 512
    return next(batch for above, batch in BATCH_TIERS if effective_ctx > above)


def batch_for_headroom(batch: int, predicted_bytes: int, available_bytes: int) -> int:
    """Step ``batch`` down as generationBatchFits does until it fits the headroom rules (512 always does)."""
    while batch > 512:
        share, surcharge = BATCH_HEADROOM[batch]
        threshold = available_bytes * 80 // 100
        if (
            predicted_bytes <= threshold
            and predicted_bytes <= available_bytes * share
            and surcharge <= threshold - predicted_bytes
        ):
            return batch
        batch = 1024 if batch > 1024 else 512
    return batch


__all__ = ["BATCH_HEADROOM", "BATCH_TIERS", "SOURCE", "auto_batch", "batch_for_headroom"]
