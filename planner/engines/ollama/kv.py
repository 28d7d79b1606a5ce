"""How Ollama sizes the KV cache it asks llama-server for: context, parallel slots and cache type.

Ollama v0.32.15 (ollama/ollama tag v0.32.15, 2026-08-19):

* ``num_ctx`` (Modelfile ``PARAMETER num_ctx`` or the request's option) is per slot; without
  one, ``OLLAMA_CONTEXT_LENGTH``; without that, a default by total VRAM (server/routes.go:
  ``totalVRAM += gpu.TotalMemory - envconfig.GpuOverhead()``; >= 47 GiB -> 262144, >= 23 GiB ->
  32768, else 4096, "slightly lower thresholds (47/23 GiB vs. 48/24 GiB)"). Earlier versions
  defaulted to 2048 (to v0.6.6) and 4096 (v0.6.7 to v0.15.4, envconfig/config.go).
* ``num_ctx`` is capped at the model's training context (llm/server.go NewLlamaServer:
  ``opts.NumCtx > trainCtx -> opts.NumCtx = trainCtx``); vision models get at least 2048
  (server/sched.go getRunner: "multimodal models require at least 2048 context").
* ``OLLAMA_NUM_PARALLEL`` slots (default 1 since v0.9.7; 0 = automatic before), forced to 1 for
  architectures "not safe with num_parallel > 1" (server/sched.go load).
* llama-server gets ``-c num_ctx * parallel -np parallel`` (llm/llama_server.go startLlamaServer):
  one KV stream of ``num_ctx`` cells per slot, which is llama.cpp's own cache rule.
* ``OLLAMA_KV_CACHE_TYPE`` (lower-cased) is passed as ``--cache-type-k`` and ``--cache-type-v``
  (empty: llama.cpp's f16).
"""

from __future__ import annotations

from planner.hardware.units import GIB
from planner.memory import kv
from planner.memory.estimate import SettingsError
from planner.model.spec import ModelSpec, Role

VERSION = "v0.32.15"
SOURCE = (
    f"ollama/ollama {VERSION}: envconfig/config.go (OLLAMA_NUM_PARALLEL default 1, OLLAMA_CONTEXT_LENGTH, "
    "OLLAMA_KV_CACHE_TYPE), server/routes.go (VRAM-based default num_ctx), server/sched.go (parallel, "
    "minimum context), llm/server.go (num_ctx capped at n_ctx_train), llm/llama_server.go "
    "(-c num_ctx*parallel -np parallel --cache-type-k/-v)"
)
#: The context tiers of server/routes.go (v0.15.5 and later): (minimum total VRAM, default num_ctx).
CONTEXT_TIERS = ((47 * GIB, 262144), (23 * GIB, 32768), (0, 4096))
#: Ollama GGUF architectures served one request at a time (server/sched.go load, v0.32.15), by HF model_type.
SINGLE_SLOT = {
    "mllama": "mllama",
    "qwen3_vl": "qwen3vl",
    "qwen3_vl_moe": "qwen3vlmoe",
    "qwen3_5": "qwen35",
    "qwen3_5_moe": "qwen35moe",
    "qwen3_next": "qwen3next",
    "lfm2": "lfm2",
    "lfm2_moe": "lfm2moe",
    "nemotron_h": "nemotron_h",
    "nemotron_h_moe": "nemotron_h_moe",
}
#: Cache types Ollama documents for OLLAMA_KV_CACHE_TYPE (docs/faq); any llama-server type passes through.
DOCUMENTED_KV_TYPES = ("f16", "q8_0", "q4_0")
#: What llama-server accepts for --cache-type-k/-v (tools/server/README.md @00dc8057).
SERVER_KV_TYPES = ("f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1")


def default_context(total_vram_bytes: int, gpu_overhead_bytes: int = 0, gpus: int = 1) -> int:
    """Ollama's default ``num_ctx`` for this much GPU memory (per GPU x ``gpus``), as server/routes.go picks it."""
    total = max(total_vram_bytes - gpu_overhead_bytes, 0) * gpus
    return next(ctx for floor, ctx in CONTEXT_TIERS if total >= floor)


def effective_context(spec: ModelSpec, num_ctx: int) -> tuple[int, list[str]]:
    """``num_ctx`` as Ollama hands it on: at least 4 (2048 for vision models), at most the training context."""
    notes = []
    ctx = max(num_ctx, 4)
    if any(t.role in (Role.VISION, Role.PROJECTOR) for t in spec.tensors) and ctx < 2048:
        notes.append(f"num_ctx {num_ctx:,} raised to 2048: Ollama gives multimodal models at least 2048")
        ctx = 2048
    train = spec.max_position_embeddings
    if train and ctx > train:
        notes.append(
            f"num_ctx {ctx:,} capped at the model's training context {train:,} "
            "(Ollama llm/server.go: 'requested context size too large for model')"
        )
        ctx = train
    return ctx, notes


def parallel_slots(spec: ModelSpec, parallel: int) -> tuple[int, list[str]]:
    """``OLLAMA_NUM_PARALLEL`` as Ollama applies it to this architecture."""
    arch = SINGLE_SLOT.get(spec.architecture)
    if arch and parallel > 1:
        return 1, [
            f"Ollama serves {arch} one request at a time (server/sched.go: 'model architecture does not currently "
            f"support parallel requests'): OLLAMA_NUM_PARALLEL={parallel} becomes 1"
        ]
    return parallel, []


def cache_type_name(value: str) -> str:
    """``OLLAMA_KV_CACHE_TYPE`` as llama-server reads it, checked (``auto`` -> f16)."""
    name = kv.normalize_cache_type(value)
    flag = {"auto": "f16", "fp16": "f16", "fp32": "f32"}.get(name, name)
    if flag not in SERVER_KV_TYPES:
        raise SettingsError(
            f"OLLAMA_KV_CACHE_TYPE '{value:.20}' is not a llama-server cache type; Ollama documents "
            f"{', '.join(DOCUMENTED_KV_TYPES)} (llama-server also takes {', '.join(SERVER_KV_TYPES)})"
        )
    return flag


__all__ = [
    "CONTEXT_TIERS",
    "DOCUMENTED_KV_TYPES",
    "SERVER_KV_TYPES",
    "SINGLE_SLOT",
    "SOURCE",
    "VERSION",
    "cache_type_name",
    "default_context",
    "effective_context",
    "parallel_slots",
]
