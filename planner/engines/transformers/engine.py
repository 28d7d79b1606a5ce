"""Hugging Face transformers (5.x) on one GPU: ``model.generate`` with a ``DynamicCache``.

Placement: every weight on the GPU (``device_map="cuda"``); nothing stays in host memory
once loaded. KV: :func:`planner.engines.transformers.kv.transformers_cache` (exact).
Activations (``activations.py``): the peak of a prefill of ``context`` tokens at ``batch``
(structural estimate, banded). Overhead (``overhead.py``): CUDA context, cuBLAS workspaces and
caching-allocator slack (empirical, banded).
"""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING, NamedTuple

from planner.engines.base import Engine, Launch
from planner.engines.common import (
    SERVER_SETTINGS,
    draft_note,
    draft_parts,
    ignored_settings,
    resolve_plain_kv,
    weights_figure,
    zero,
)
from planner.engines.registry import register_engine
from planner.engines.shape import model_dtype
from planner.engines.transformers.activations import SOURCE, activations_figure, int8_matmul_transient
from planner.engines.transformers.kv import transformers_runs
from planner.engines.transformers.launch import transformers_launch
from planner.engines.transformers.overhead import overhead_figure
from planner.formats.base import QuantFormat, WeightsReport
from planner.hardware.units import format_short
from planner.memo import IdentityCache
from planner.memory import kv
from planner.memory.estimate import Component, MemoryEstimate, RunSettings, SettingsError
from planner.memory.figure import Figure
from planner.model.spec import AttentionKind, ModelSpec

if TYPE_CHECKING:
    from planner.fit.answer import FitAnswer

ATTN_IMPLEMENTATIONS = {None: "sdpa", True: "flash_attention_2", False: "eager"}


class TransformersEngine(Engine):
    """transformers ``generate()`` with the default ``DynamicCache`` and sdpa attention."""

    id = "transformers"
    description = "Hugging Face transformers 5.x, model.generate() with DynamicCache, all weights on one GPU"
    source = SOURCE
    kv_dtypes = ("auto", "bf16", "fp16", "fp32")

    def estimate(self, spec: ModelSpec, fmt: QuantFormat, settings: RunSettings) -> MemoryEstimate:
        frame = _FRAMES.get((spec, fmt), _STATIC_SETTINGS(settings), lambda: _frame(spec, fmt, settings))
        k_name, cache_t, attn, report, weights, notes, int8_row = frame
        # NOTE: the KV cache, the activations and the overhead on top of them read the format only for
        # its cache dtype and LLM.int8's temporaries: the formats of a model at one context share them.
        kv_fig, activations, overhead = _CONTEXT_PARTS.get(
            (spec,),
            (cache_t, attn, int8_row, settings.context, settings.batch),
            lambda: _context_parts(spec, cache_t, attn, report, settings),
        )
        host = zero(_HOST_RULE)
        return MemoryEstimate(
            model=spec,
            format=fmt,
            engine=self.id,
            settings=settings,
            kv_dtype=k_name,
            weights_report=report,
            weights=weights,
            kv_cache=kv_fig,
            activations=activations,
            overhead=overhead,
            host_weights=host,
            host_kv_cache=host,
            host_activations=host,
            notes=notes,
        )

    def draft_component(self, spec: ModelSpec, fmt: QuantFormat, settings: RunSettings) -> Component:
        """``generate(assistant_model=...)``: the assistant's weights and its own DynamicCache for the same tokens."""
        draft = settings.draft
        assert draft is not None
        _, gpu, _ = draft_parts(self, spec, settings, with_buffers=False)
        rule = (
            f"assistant {draft.spec.name} in {draft.format.id}: weights {format_short(gpu['draft_weights'])} + its "
            f"DynamicCache {format_short(gpu['draft_kv_cache'])}"
        )
        warning = draft_note(spec, draft.spec)
        return Component(
            "draft",
            Figure(
                sum(gpu.values()),
                rule + (f"; {warning}" if warning else ""),
                keys=("draft_model", "draft_format", "context", "batch"),
                source="transformers 5.23 generation/candidate_generator.py AssistedCandidateGenerator (assistant_model)",
                parts=gpu,
            ),
        )

    def launch(self, est: MemoryEstimate, answer: FitAnswer | None = None) -> Launch | None:
        return transformers_launch(est, answer)


#: The settings an estimate reads besides context and batch (its frame is remembered per their values).
_IGNORED = ("ubatch", "gpu_layers", "gpu_memory_utilization", "max_num_batched_tokens", *SERVER_SETTINGS)
_STATIC_SETTINGS = attrgetter("kv_dtype_k", "kv_dtype_v", "flash_attn", *_IGNORED)
_FRAMES = IdentityCache(2048)
#: The context-dependent figures, per model, cache dtype, attention and context (shared by its formats).
_CONTEXT_PARTS = IdentityCache(4096)
_HOST_RULE = (
    "transformers keeps no weights, cache or buffers in host memory once the model is on the GPU "
    "(the Python process itself, ~1-2 GiB RSS with torch and CUDA libraries, is not counted)"
)


class _Frame(NamedTuple):
    """What an estimate of ``spec`` in ``fmt`` takes from the settings that do not change with context or batch."""

    kv_dtype: str
    cache_t: kv.CacheType
    attn: str
    report: WeightsReport
    weights: Figure
    notes: tuple[str, ...]
    int8_row: int  # LLM.int8's temporaries per prompt row (0 for other formats)


def _frame(spec: ModelSpec, fmt: QuantFormat, settings: RunSettings) -> _Frame:
    dtype = model_dtype(fmt)
    try:
        k_name, v_name = resolve_plain_kv(settings, dtype, (dtype,), TransformersEngine.id)
    except SettingsError as exc:
        others = " or ".join(d for d in ("bf16", "fp16", "fp32") if d != dtype)
        raise SettingsError(
            f"{exc} (DynamicCache stores the dtype the model runs in; for a {others} cache run a {others} format)"
        ) from None
    if k_name != v_name:  # pragma: no cover - both must equal the model dtype already
        raise SettingsError("transformers keeps K and V in one dtype")
    attn = ATTN_IMPLEMENTATIONS[settings.flash_attn]
    notes = ignored_settings(settings, TransformersEngine.id, _IGNORED)
    notes.append(
        f"transformers' DynamicCache stores K/V in the activation dtype ({dtype}); quantized caches "
        "(QuantizedCache with quanto/HQQ) are not modelled"
    )
    if AttentionKind.MLA in kv.attention_kinds(spec):
        notes.append(
            "transformers 5.x caches the MLA latent (kv_lora_rank + rope key) per token, not expanded heads"
        )
    if attn == "eager":
        notes.append("eager attention materializes [batch, heads, context, context] scores (fp32 softmax)")
    report = fmt.weights(spec)
    return _Frame(
        k_name,
        kv.cache_type(k_name),
        attn,
        report,
        weights_figure(report, "all on the GPU"),
        tuple(notes),
        int8_matmul_transient(report, 1),
    )


def _context_parts(
    spec: ModelSpec, cache_t: kv.CacheType, attn: str, report: WeightsReport, settings: RunSettings
) -> tuple[Figure, Figure, Figure]:
    """The KV cache, activations and overhead figures of ``spec`` at ``settings``' context and batch."""
    runs, lines = transformers_runs(spec, cache_t, settings.context, settings.batch)
    kv_fig = kv.runs_figure(
        runs,
        lines,
        keys=("context", "batch", "num_key_value_heads", "head_dim", "sliding_window", "kv_lora_rank"),
        source="transformers cache_utils.py (DynamicLayer / DynamicSlidingWindowLayer keeps window-1 / LinearAttentionLayer)",
    )
    activations = activations_figure(spec, cache_t, settings, attn, report)
    return kv_fig, activations, overhead_figure(kv_fig.bytes + activations.bytes)


ENGINE = register_engine(TransformersEngine())

__all__ = ["ENGINE", "TransformersEngine"]
