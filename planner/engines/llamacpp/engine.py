"""llama.cpp (llama-server / llama-cli, CUDA backend) and the Ollama runner that wraps it.

Weights: ``weights.py`` (``load_tensors`` placement: ``-ngl`` layers from the tail, the input
layer on the CPU, a tied output duplicated). KV: :func:`planner.engines.llamacpp.kv.llamacpp_cache`
(exact); the KV cache of a layer lives with that layer (``offload_kqv``, default on). Compute
buffers (``activations.py``): the ollama ``GraphSize`` formula (exact on three published
non-flash-attention logs) and a flash-attention variant (banded). Overhead (``overhead.py``):
CUDA context and scheduler (banded).
"""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING, NamedTuple

from planner.engines.base import Engine, Launch
from planner.engines.common import SERVER_SETTINGS, ignored_settings, zero
from planner.engines.constants import default, default_source
from planner.engines.llamacpp import adapters
from planner.engines.llamacpp.activations import SOURCE, compute_buffers
from planner.engines.llamacpp.kv import llamacpp_cells, llamacpp_runs
from planner.engines.llamacpp.launch import llama_server_launch
from planner.engines.llamacpp.mmproj import mmproj_component
from planner.engines.llamacpp.overhead import overhead_figure
from planner.engines.llamacpp.weights import first_gpu_layer, placement
from planner.engines.registry import register_engine
from planner.formats.base import QuantFormat, WeightsReport
from planner.memo import IdentityCache
from planner.memory import kv
from planner.memory.estimate import Component, MemoryEstimate, RunSettings, SettingsError
from planner.memory.figure import Figure
from planner.model.spec import AttentionKind, ModelSpec

if TYPE_CHECKING:
    from planner.fit.answer import FitAnswer

KV_TYPES = ("fp32", "fp16", "bf16", "q8_0", "q5_1", "q5_0", "q4_1", "q4_0", "iq4_nl")


#: The settings an estimate reads besides context and batch (its frame is remembered per their values).
_IGNORED = ("gpu_memory_utilization", "max_num_batched_tokens", *SERVER_SETTINGS)
_STATIC_SETTINGS = attrgetter(
    "kv_dtype_k", "kv_dtype_v", "flash_attn", "ubatch", "gpu_layers", "mmproj", *_IGNORED
)
_FRAMES = IdentityCache(2048)
#: The context-dependent figures, per model, -ngl placement, cache types and context (shared by its formats).
_CONTEXT_PARTS = IdentityCache(4096)
_ALL_KV_ON_GPU = zero("every layer's KV cache is on the GPU (offload_kqv)")
_KV_KEYS = ("context", "batch", "kv_dtype_k", "kv_dtype_v", "ubatch", "num_key_value_heads", "head_dim")
_KV_SOURCE = (
    "llama.cpp src/llama-kv-cache.cpp (K/V rows per cell), src/llama-kv-cache-iswa.cpp (SWA cells), "
    "src/llama-memory-recurrent.cpp (F32 r/s)"
)


class _Frame(NamedTuple):
    """The part of an estimate that depends on the model, the format and the settings but context and batch."""

    k_type: kv.CacheType
    v_type: kv.CacheType
    kv_dtype: str
    flash: bool | None
    ubatch: int
    ngl: int
    i_gpu_start: int
    report: WeightsReport
    weights: Figure
    host_weights: Figure
    largest_cpu: int
    notes_before: tuple[str, ...]  # the notes before the KV cells note, and those after it
    notes_after: tuple[str, ...]
    extras: tuple[Component, ...]


def _context_parts(
    spec: ModelSpec, f: _Frame, largest_cpu: int, settings: RunSettings
) -> tuple[Figure, Figure, Figure, Figure, str]:
    """The GPU and host KV figures, compute buffers and the cells note of ``spec`` at ``settings``' context."""
    i_gpu_start, ngl = f.i_gpu_start, f.ngl
    runs, lines = llamacpp_runs(spec, f.k_type, f.v_type, settings.context, settings.batch, f.ubatch)
    gpu_runs, cpu_runs = _split(runs, i_gpu_start)
    n_cpu = sum(r.count for r in cpu_runs)
    kv_fig = kv.runs_figure(
        gpu_runs,
        lines if not n_cpu else lambda: [*lines(), f"layers {i_gpu_start}+ on the GPU"],
        keys=_KV_KEYS,
        source=_KV_SOURCE,
    )
    if n_cpu:
        host_kv = kv.runs_figure(
            cpu_runs,
            [f"KV of the {n_cpu} layers kept on the CPU (-ngl {ngl})"],
            keys=_KV_KEYS,
            source=_KV_SOURCE,
        )
    else:
        host_kv = _ALL_KV_ON_GPU
    cells = llamacpp_cells(settings.context)
    n_kv = max((r.cells for r in runs if r.cells), default=0)
    activations, host_act = compute_buffers(
        spec, settings, f.flash, f.ubatch, n_kv, cells, largest_cpu, bool(n_cpu), ngl
    )
    cells_note = (
        f"KV for {settings.batch} sequence stream(s) of pad({settings.context:,}, 256) = {cells:,} cells "
        "(-np batch, non-unified); a unified cache (-kvu) pads batch x context once instead"
    )
    return kv_fig, host_kv, activations, host_act, cells_note


class LlamaCppEngine(Engine):
    """llama.cpp with the CUDA backend: ``-ngl``, ``-fa``, ``-ctk/-ctv``, ``-ub``, ``-np``."""

    id = "llama.cpp"
    description = "llama.cpp / llama-server (and Ollama's runner), CUDA backend, GGUF weights"
    source = SOURCE
    kv_dtypes = ("auto", *KV_TYPES)

    def estimate(self, spec: ModelSpec, fmt: QuantFormat, settings: RunSettings) -> MemoryEstimate:
        f = _FRAMES.get((spec, fmt), _STATIC_SETTINGS(settings), lambda: self._frame(spec, fmt, settings))
        # NOTE: the KV cache and the compute buffers do not depend on the format (only on the model,
        # the cache types, -ngl and the context), but for the largest CPU-resident tensor a partial
        # offload stages: every GGUF type of a model at one context shares them.
        largest = f.largest_cpu if f.i_gpu_start else 0
        kv_fig, host_kv, activations, host_act, cells_note = _CONTEXT_PARTS.get(
            (spec,),
            (
                f.k_type,
                f.v_type,
                f.flash,
                f.ubatch,
                f.i_gpu_start,
                f.ngl,
                largest,
                settings.context,
                settings.batch,
            ),
            lambda: _context_parts(spec, f, largest, settings),
        )
        return MemoryEstimate(
            model=spec,
            format=fmt,
            engine=self.id,
            settings=settings,
            kv_dtype=f.kv_dtype,
            weights_report=f.report,
            weights=f.weights,
            kv_cache=kv_fig,
            activations=activations,
            overhead=overhead_figure(),
            host_weights=f.host_weights,
            host_kv_cache=host_kv,
            host_activations=host_act,
            notes=(*f.notes_before, cells_note, *f.notes_after),
            extras=f.extras,
        )

    def _frame(self, spec: ModelSpec, fmt: QuantFormat, settings: RunSettings) -> _Frame:
        """What an estimate takes from the settings that do not change with context or batch."""
        k_type, v_type, flash = self._resolve(settings)
        ubatch = settings.ubatch or int(default(self.id, "n_ubatch"))
        n_layer = spec.num_layers
        ngl = n_layer + 1 if settings.gpu_layers is None else min(settings.gpu_layers, n_layer + 1)
        i_gpu_start = first_gpu_layer(n_layer, ngl)
        output_on_gpu = ngl >= 1
        before = ignored_settings(settings, self.id, _IGNORED)
        report = fmt.weights(spec)
        weights, host_weights, largest_cpu = placement(spec, report, i_gpu_start, output_on_gpu, ngl)
        if flash is None:
            before.append(
                "flash attention left on auto: assumed enabled (CUDA supports it for these head sizes)"
            )
        after = [
            "host weights are memory-mapped from the GGUF file (mmap): page cache, not necessarily resident"
        ]
        mmproj, mmproj_note = mmproj_component(spec, report, settings.mmproj, flash)
        if mmproj_note:
            after.append(mmproj_note)
        if AttentionKind.MLA in kv.attention_kinds(spec):
            after.append(
                "MLA cached as one K row of kv_lora_rank + rope and no V (GGUFs converted with MLA support, "
                "llama.cpp PR #12801 and later); older DeepSeek GGUFs cache expanded K/V heads"
            )
        return _Frame(
            k_type,
            v_type,
            k_type.name if k_type == v_type else f"{k_type.name}/{v_type.name}",
            flash,
            ubatch,
            ngl,
            i_gpu_start,
            report,
            weights,
            host_weights,
            largest_cpu,
            tuple(before),
            tuple(after),
            (mmproj,) if mmproj is not None else (),
        )

    def format_hint(self, fmt: QuantFormat) -> str | None:
        """GGUF types for the safetensors formats a user may type (gpt-oss's MXFP4, 16-bit)."""
        return gguf_hint(fmt)

    def draft_component(self, spec: ModelSpec, fmt: QuantFormat, settings: RunSettings) -> Component:
        return adapters.draft_component(self, spec, settings)

    def lora_component(self, spec: ModelSpec, fmt: QuantFormat, settings: RunSettings) -> Component:
        return adapters.lora_component(spec, settings)

    def launch(self, est: MemoryEstimate, answer: FitAnswer | None = None) -> Launch | None:
        return llama_server_launch(est, answer)

    # -----------------------------------------------------------------------------------------

    def _resolve(self, settings: RunSettings) -> tuple[kv.CacheType, kv.CacheType, bool | None]:
        """``-ctk/-ctv`` types (auto = f16) and flash attention; quantized V needs flash attention."""
        names = []
        for which, value in (("K", settings.kv_dtype_k), ("V", settings.kv_dtype_v)):
            name = kv.normalize_cache_type(value)
            name = str(default(self.id, "kv_type")) if name == "auto" else name
            if name not in KV_TYPES:
                raise SettingsError(
                    f"llama.cpp has no {which} cache type '{value:.20}'; valid: auto, "
                    + ", ".join(n.replace("fp32", "f32").replace("fp16", "f16") for n in KV_TYPES)
                )
            names.append(name)
        k_type, v_type = kv.cache_type(names[0]), kv.cache_type(names[1])
        if v_type.quantized and settings.flash_attn is False:
            raise SettingsError(
                f"llama.cpp refuses a quantized V cache ({v_type.name}) without flash attention "
                "(src/llama-context.cpp); enable -fa or keep V in f16, bf16 or f32"
            )
        return k_type, v_type, settings.flash_attn


#: The GGUF type a GGUF runner loads for a safetensors format id (the same weights, converted).
GGUF_EQUIVALENT = {
    "mxfp4": (
        "mxfp4_moe",
        "gpt-oss's MXFP4 experts load as the GGUF type 'mxfp4_moe' (routed experts MXFP4, everything else "
        "Q8_0): use --format mxfp4_moe",
    ),
    "bf16": ("gguf-bf16", "16-bit weights load as the GGUF type 'gguf-bf16': use --format gguf-bf16"),
    "fp16": ("gguf-f16", "16-bit weights load as the GGUF type 'gguf-f16': use --format gguf-f16"),
}


def gguf_hint(fmt: QuantFormat) -> str | None:
    """What a GGUF runner (llama.cpp, Ollama) loads instead of ``fmt``, in words (``None`` if nothing)."""
    if fmt.family == "gguf":
        return None
    entry = GGUF_EQUIVALENT.get(fmt.id)
    if entry is not None:
        return entry[1]
    return "it runs GGUF files: pick a GGUF type such as q4_k_m, q8_0 or gguf-f16"


def _split(runs: tuple[kv.CacheRun, ...], first_gpu: int) -> tuple[list[kv.CacheRun], list[kv.CacheRun]]:
    """Runs restricted to the GPU layers (``>= first_gpu``) and to the CPU layers, each by first layer."""
    if first_gpu <= 0:  # every layer on the GPU (the default -ngl)
        return sorted(runs, key=lambda r: r.indices[0]), []
    gpu, cpu = [], []
    for r in runs:
        on_gpu = tuple(i for i in r.indices if i >= first_gpu)
        if len(on_gpu) == len(r.indices):
            gpu.append(r)
            continue
        if on_gpu:
            gpu.append(r.only(on_gpu))
        cpu.append(r.only(tuple(i for i in r.indices if i < first_gpu)))
    gpu.sort(key=lambda r: r.indices[0])
    cpu.sort(key=lambda r: r.indices[0])
    return gpu, cpu


ENGINE = register_engine(LlamaCppEngine())

__all__ = ["ENGINE", "GGUF_EQUIVALENT", "LlamaCppEngine", "default_source", "gguf_hint"]
