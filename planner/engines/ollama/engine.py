"""Ollama v0.32.15 (``ollama serve``), which runs every GGUF model in llama.cpp's ``llama-server``.

Since Ollama delegates loading to an upstream llama-server subprocess (llm/llama_server.go,
llama.cpp pinned at b10488 in LLAMA_CPP_VERSION), its memory is llama.cpp's memory under the
flags Ollama chooses; this engine reuses the llama.cpp engine through the registry (not by
copying its rules) after translating Ollama's settings:

* context and slots (``kv.py``): ``num_ctx`` per slot capped at the training context, vision
  models at least 2048, ``OLLAMA_NUM_PARALLEL`` slots (some architectures one), ``-c num_ctx x
  parallel -np parallel``;
* cache type ``OLLAMA_KV_CACHE_TYPE`` (quantized V needs flash attention, llama.cpp's rule),
  flash attention ``OLLAMA_FLASH_ATTENTION`` (unset: ``--flash-attn auto`` where every GPU
  supports it);
* the batch (``activations.py``): ``-b/-ub`` of 512/1024/2048 by ``num_ctx x parallel``;
* placement: llama-server ``--fit`` keeps 1 GiB free per device (``overhead.py``); ``num_gpu``
  (Modelfile) is ``-ngl``; a vision model's projector is loaded (there is no switch to drop it)
  and goes to the CPU when ``num_gpu`` leaves layers there.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from planner.engines.base import Engine, Launch
from planner.engines.common import SERVER_SETTINGS, ignored_settings
from planner.engines.ollama import activations, kv, overhead
from planner.engines.ollama.launch import ollama_launch
from planner.engines.registry import get_engine, register_engine
from planner.formats.base import QuantFormat
from planner.memory.estimate import Component, MemoryEstimate, RunSettings, SettingsError
from planner.memory.figure import Figure
from planner.model.spec import ModelSpec

if TYPE_CHECKING:
    from planner.fit.answer import FitAnswer

#: Formats Ollama loads besides GGUF files: gpt-oss's checkpoint layout, which Ollama converts as it is.
NATIVE_FORMATS = ("mxfp4",)


def _llamacpp() -> Engine:
    return get_engine("llama.cpp")


class OllamaEngine(Engine):
    """Ollama v0.32.15: llama-server with Ollama's context, slot, batch and cache settings."""

    id = "ollama"
    description = (
        "Ollama v0.32.15 (ollama serve / ollama run), llama.cpp's llama-server underneath, GGUF weights"
    )
    source = f"{kv.SOURCE}; {activations.SOURCE}; {overhead.SOURCE}"
    kv_dtypes = ("auto", "fp16", "q8_0", "q4_0", "bf16", "fp32", "q4_1", "q5_0", "q5_1", "iq4_nl")

    def loads(self, fmt: QuantFormat) -> bool:
        """GGUF file types, and gpt-oss's MXFP4 checkpoint layout (Ollama's own conversion)."""
        return fmt.family == "gguf" or fmt.id in NATIVE_FORMATS

    def format_hint(self, fmt: QuantFormat) -> str | None:
        from planner.engines.registry import get_engine as engine_of

        return engine_of("llama.cpp").format_hint(fmt)

    def inner_settings(self, spec: ModelSpec, settings: RunSettings) -> tuple[RunSettings, list[str]]:
        """The settings llama-server runs with under Ollama, and what Ollama changed on the way."""
        notes: list[str] = []
        if settings.mmproj is False and any(t.role.value in ("vision", "projector") for t in spec.tensors):
            raise SettingsError(
                "Ollama loads a vision model's projector whenever the model has one; it has no switch to skip it "
                "(use llama.cpp with --no-mmproj, or a text-only tag)"
            )
        context, ctx_notes = kv.effective_context(spec, settings.context)
        batch, slot_notes = kv.parallel_slots(spec, settings.batch)
        notes += ctx_notes + slot_notes
        for _which, value in (("K", settings.kv_dtype_k), ("V", settings.kv_dtype_v)):
            kv.cache_type_name(value)
        if settings.kv_dtype_k != settings.kv_dtype_v:
            raise SettingsError(
                "Ollama sets one OLLAMA_KV_CACHE_TYPE for both K and V (--cache-type-k and --cache-type-v)"
            )
        ubatch = settings.ubatch
        if ubatch is None:
            ubatch = activations.auto_batch(context * batch, settings.flash_attn)
            notes.append(
                f"num_batch automatic: llama-server gets -b {ubatch} -ub {ubatch} for num_ctx {context:,} x "
                f"{batch} slot(s) (Ollama steps a 1024/2048 batch down to 512 when the GPU's headroom is small)"
            )
        inner = replace(
            settings, context=context, batch=batch, ubatch=ubatch, draft=None, lora_rank=None, max_loras=None
        )
        return inner, notes

    def estimate(self, spec: ModelSpec, fmt: QuantFormat, settings: RunSettings) -> MemoryEstimate:
        if not self.loads(fmt):
            raise SettingsError(f"ollama does not load '{fmt.id}' weights")
        inner, notes = self.inner_settings(spec, settings)
        notes = (
            ignored_settings(
                settings, self.id, ("gpu_memory_utilization", "max_num_batched_tokens", *SERVER_SETTINGS)
            )
            + notes
        )
        est = _llamacpp().estimate(spec, fmt, inner)
        extras = list(est.extras)
        mmproj = est.extra("mmproj")
        partial = settings.gpu_layers is not None and settings.gpu_layers < spec.num_layers + 1
        if mmproj is not None and partial:
            extras = [c for c in extras if c.name != "mmproj"]
            extras.append(
                Component(
                    "mmproj",
                    Figure(0, "num_gpu leaves text layers on the CPU: Ollama adds --no-mmproj-offload"),
                    replace(mmproj.gpu, rule=f"{mmproj.gpu.rule} (in host memory: --no-mmproj-offload)"),
                )
            )
            notes.append(
                "num_gpu below the model's layers: Ollama keeps the projector on the CPU "
                "(shouldDisableMMProjOffload 'partial-text-offload')"
            )
        if settings.flash_attn is None:
            notes.append(
                "OLLAMA_FLASH_ATTENTION unset: Ollama passes --flash-attn auto where every GPU supports it "
                "(off on CUDA below compute capability 7.0 and on Jetson Xavier, ml/device.go)"
            )
        notes.append(
            f"Ollama {kv.VERSION} runs llama-server (llama.cpp b10488) with -c {inner.context * inner.batch:,} "
            f"-np {inner.batch}: the memory below is llama.cpp's for those flags"
        )
        llama_notes = [n for n in est.notes if not n.startswith("flash attention left on auto")]
        return replace(
            est,
            engine=self.id,
            settings=replace(inner, ubatch=settings.ubatch, draft=settings.draft, lora_rank=settings.lora_rank,
                             max_loras=settings.max_loras),
            notes=tuple(notes + llama_notes),
            extras=tuple(extras),
        )  # fmt: skip

    def draft_component(self, spec: ModelSpec, fmt: QuantFormat, settings: RunSettings) -> Component:
        """Modelfile ``DRAFT``: llama-server's draft model (``--spec-draft-model``), llama.cpp's rule."""
        inner, _ = self.inner_settings(spec, settings)
        return _llamacpp().draft_component(spec, fmt, replace(inner, draft=settings.draft))

    def lora_component(self, spec: ModelSpec, fmt: QuantFormat, settings: RunSettings) -> Component:
        """Modelfile ``ADAPTER``: passed to llama-server as ``--lora``, llama.cpp's rule."""
        return _llamacpp().lora_component(spec, fmt, settings)

    def launch(self, est: MemoryEstimate, answer: FitAnswer | None = None) -> Launch | None:
        return ollama_launch(est, answer)


ENGINE = register_engine(OllamaEngine())

__all__ = ["ENGINE", "NATIVE_FORMATS", "OllamaEngine"]
