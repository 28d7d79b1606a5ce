"""Hugging Face transformers (5.x) on one GPU: ``model.generate`` with a ``DynamicCache``.

Placement: every weight on the GPU (``device_map="cuda"``); nothing stays in host memory
once loaded. KV: :func:`planner.engines.transformers.kv.transformers_cache` (exact).
Activations (``activations.py``): the peak of a prefill of ``context`` tokens at ``batch``
(structural estimate, banded). Overhead (``overhead.py``): CUDA context, cuBLAS workspaces and
caching-allocator slack (empirical, banded).
"""

from __future__ import annotations

from planner.engines.base import Engine
from planner.engines.common import SERVER_SETTINGS, ignored_settings, resolve_plain_kv, weights_figure, zero
from planner.engines.registry import register_engine
from planner.engines.shape import model_dtype
from planner.engines.transformers.activations import SOURCE, activations_figure
from planner.engines.transformers.kv import transformers_runs
from planner.engines.transformers.overhead import overhead_figure
from planner.formats.base import QuantFormat
from planner.memory import kv
from planner.memory.estimate import MemoryEstimate, RunSettings, SettingsError
from planner.model.spec import AttentionKind, ModelSpec

ATTN_IMPLEMENTATIONS = {None: "sdpa", True: "flash_attention_2", False: "eager"}


class TransformersEngine(Engine):
    """transformers ``generate()`` with the default ``DynamicCache`` and sdpa attention."""

    id = "transformers"
    description = "Hugging Face transformers 5.x, model.generate() with DynamicCache, all weights on one GPU"
    source = SOURCE
    kv_dtypes = ("auto", "bf16", "fp16", "fp32")

    def estimate(self, spec: ModelSpec, fmt: QuantFormat, settings: RunSettings) -> MemoryEstimate:
        dtype = model_dtype(fmt)
        try:
            k_name, v_name = resolve_plain_kv(settings, dtype, (dtype,), self.id)
        except SettingsError as exc:
            others = " or ".join(d for d in ("bf16", "fp16", "fp32") if d != dtype)
            raise SettingsError(
                f"{exc} (DynamicCache stores the dtype the model runs in; for a {others} cache run a {others} format)"
            ) from None
        if k_name != v_name:  # pragma: no cover - both must equal the model dtype already
            raise SettingsError("transformers keeps K and V in one dtype")
        cache_t = kv.cache_type(k_name)
        attn = ATTN_IMPLEMENTATIONS[settings.flash_attn]
        notes = ignored_settings(
            settings,
            self.id,
            ("ubatch", "gpu_layers", "gpu_memory_utilization", "max_num_batched_tokens", *SERVER_SETTINGS),
        )
        notes.append(
            f"transformers' DynamicCache stores K/V in the activation dtype ({dtype}); quantized caches "
            "(QuantizedCache with quanto/HQQ) are not modelled"
        )

        report = fmt.weights(spec)
        weights = weights_figure(report, "all on the GPU")

        runs, lines = transformers_runs(spec, cache_t, settings.context, settings.batch)
        kv_fig = kv.runs_figure(
            runs,
            lines,
            keys=("context", "batch", "num_key_value_heads", "head_dim", "sliding_window", "kv_lora_rank"),
            source="transformers cache_utils.py (DynamicLayer / DynamicSlidingWindowLayer keeps window-1 / LinearAttentionLayer)",
        )
        activations = activations_figure(spec, cache_t, settings, attn, report)
        overhead = overhead_figure(kv_fig.bytes + activations.bytes)

        host_rule = (
            "transformers keeps no weights, cache or buffers in host memory once the model is on the GPU "
            "(the Python process itself, ~1-2 GiB RSS with torch and CUDA libraries, is not counted)"
        )
        if AttentionKind.MLA in kv.attention_kinds(spec):
            notes.append(
                "transformers 5.x caches the MLA latent (kv_lora_rank + rope key) per token, not expanded heads"
            )
        if attn == "eager":
            notes.append(
                "eager attention materializes [batch, heads, context, context] scores (fp32 softmax)"
            )
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
            host_weights=zero(host_rule),
            host_kv_cache=zero(host_rule),
            host_activations=zero(host_rule),
            notes=tuple(notes),
        )


ENGINE = register_engine(TransformersEngine())

__all__ = ["ENGINE", "TransformersEngine"]
