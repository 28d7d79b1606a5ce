"""MLX: mlx-lm v0.31.3 (``mlx_lm.generate``/``mlx_lm.server``) on mlx v0.32.1, LM Studio's Mac engine.

Unified memory: every array is a Metal buffer in the memory the CPU shares, so there is no host
side; the budget on a Mac is Metal's working set (``recommendedMaxWorkingSetSize``, which mlx-lm
raises the wired limit to). Weights: the format's bytes for the language model (mlx-lm's ``sanitize``
drops a vision tower; mlx-vlm runs those). KV: :func:`planner.engines.mlx.kv.mlx_cache` (exact:
256-token steps, rotating caches for sliding layers, ``--kv-bits`` quantized caches). Activations:
one 2048-token prefill chunk (banded). Overhead: Metal runtime (banded).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from planner.engines.base import Engine, Launch
from planner.engines.common import (
    SERVER_SETTINGS,
    draft_note,
    draft_parts,
    ignored_settings,
    weights_figure,
    zero,
)
from planner.engines.mlx import kv as mlx_kv
from planner.engines.mlx.activations import activations_figure
from planner.engines.mlx.launch import mlx_launch
from planner.engines.mlx.overhead import overhead_figure
from planner.engines.registry import register_engine
from planner.formats.base import QuantFormat, WeightsReport
from planner.hardware.units import format_short
from planner.memory import kv
from planner.memory.estimate import Component, MemoryEstimate, RunSettings, SettingsError
from planner.memory.figure import Figure
from planner.model.spec import ModelSpec, Role

if TYPE_CHECKING:
    from planner.fit.answer import FitAnswer

#: Formats mlx-lm loads besides its own quantizations: 16/32-bit safetensors (mlx-community "-bf16").
PLAIN_FORMATS = ("bf16", "fp16", "fp32")
VISION_ROLES = frozenset({Role.VISION, Role.PROJECTOR})


class MlxEngine(Engine):
    """mlx-lm: Metal (or CUDA) arrays in unified memory, a growing KV cache, lazy prefill chunks."""

    id = "mlx"
    description = (
        "MLX via mlx-lm v0.31.3 (mlx_lm.generate / mlx_lm.server; LM Studio's MLX engine), unified memory"
    )
    source = mlx_kv.SOURCE
    kv_dtypes = ("auto", "bf16", "fp16", *mlx_kv.KV_BITS)

    def loads(self, fmt: QuantFormat) -> bool:
        return fmt.family == "mlx" or fmt.id in PLAIN_FORMATS

    def format_hint(self, fmt: QuantFormat) -> str | None:
        hints = {
            "mxfp4": "MLX's own MXFP4 is 'mlx-mxfp4' (group 32, E8M0 scales): use --format mlx-mxfp4",
            "mxfp4_moe": "MLX's own MXFP4 is 'mlx-mxfp4': use --format mlx-mxfp4",
            "q4_k_m": "MLX runs its own quantizations, not GGUF: the 4-bit one is 'mlx-4bit'",
            "q8_0": "MLX runs its own quantizations, not GGUF: the 8-bit one is 'mlx-8bit'",
        }
        if fmt.id in hints:
            return hints[fmt.id]
        return "MLX runs bf16/fp16 safetensors and its own quantizations: mlx-2bit ... mlx-8bit, mlx-mxfp4, mlx-mxfp8, mlx-nvfp4"

    def _cache_type(self, settings: RunSettings) -> tuple[kv.CacheType, str]:
        names = {kv.normalize_cache_type(settings.kv_dtype_k), kv.normalize_cache_type(settings.kv_dtype_v)}
        if len(names) != 1:
            raise SettingsError("mlx-lm keeps K and V in one type (one --kv-bits for both)")
        name = names.pop()
        if name in ("auto", "bf16", "fp16"):
            return kv.cache_type("bf16" if name == "auto" else name), ("bf16" if name == "auto" else name)
        if name in mlx_kv.KV_BITS:
            return mlx_kv.quantized_type(mlx_kv.KV_BITS[name]), name
        raise SettingsError(
            f"mlx-lm has no cache type '{settings.kv_dtype_k:.20}'; valid: auto, bf16, fp16, "
            + ", ".join(f"{k} (--kv-bits {b})" for k, b in mlx_kv.KV_BITS.items())
        )

    def estimate(self, spec: ModelSpec, fmt: QuantFormat, settings: RunSettings) -> MemoryEstimate:
        cache_t, kv_name = self._cache_type(settings)
        unquantized = cache_t.quantized and spec.architecture in mlx_kv.CACHE_LIST
        if unquantized:
            cache_t, asked, kv_name = kv.cache_type("bf16"), kv_name, "bf16"
        if cache_t.quantized and mlx_kv.rotates(spec):
            raise SettingsError(
                "mlx-lm cannot quantize this model's cache: its sliding layers use RotatingKVCache, whose "
                "to_quantized raises 'RotatingKVCache Quantization NYI' (mlx_lm/models/cache.py v0.31.3)"
            )
        notes = ignored_settings(
            settings,
            self.id,
            (
                "ubatch",
                "gpu_layers",
                "gpu_memory_utilization",
                "max_num_batched_tokens",
                "flash_attn",
                *SERVER_SETTINGS,
            ),
        )
        if settings.mmproj:
            raise SettingsError(
                "mlx-lm runs the language model only (the vision tower is dropped); use mlx-vlm"
            )
        full = fmt.weights(spec)
        text = tuple(t for t in full.tensors if t.group.role not in VISION_ROLES)
        report = WeightsReport(full.format_id, text, full.notes)
        if len(text) != len(full.tensors):
            notes.append(
                "mlx-lm loads the language model only: the vision tower is dropped (mlx-vlm runs it)"
            )
        weights = weights_figure(report, "Metal buffers in unified memory")

        layers, lines = mlx_kv.mlx_cache(spec, cache_t, settings.context, settings.batch)
        kv_fig = kv.cache_figure(
            layers, lines, keys=("context", "batch", "kv_dtype_k", "num_key_value_heads", "head_dim", "sliding_window"),
            source=mlx_kv.SOURCE,
        )  # fmt: skip
        overhang = mlx_kv.prefill_overhang(spec, cache_t, settings.context, settings.batch)
        activations = activations_figure(spec, settings.context, settings.batch, overhang)
        overhead = overhead_figure()
        if unquantized:
            notes.append(
                f"--kv-bits {mlx_kv.KV_BITS[asked]} leaves this model's cache in bf16: mlx-lm gives each layer a "
                "CacheList, which has no to_quantized (mlx_lm/models/cache.py, generate.py maybe_quantize_kv_cache "
                f"{mlx_kv.VERSION})"
            )
        if cache_t.quantized:
            notes.append(
                f"--kv-bits {mlx_kv.KV_BITS[kv_name]}: the cache is quantized once it holds --quantized-kv-start tokens "
                f"(mlx_lm.generate default {mlx_kv.DEFAULT_QUANTIZED_KV_START:,}; the launch command sets 0); "
                "mlx_lm.server has no --kv-bits"
            )
        notes.append(
            "unified memory: weights, cache and buffers are Metal buffers in the memory the CPU shares; on a Mac the "
            "budget is Metal's working set (recommendedMaxWorkingSetSize), which mlx-lm raises the wired limit to"
        )
        host_rule = "unified memory: nothing is kept in a separate host copy"
        return MemoryEstimate(
            model=spec,
            format=fmt,
            engine=self.id,
            settings=settings,
            kv_dtype=kv_name,
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

    def draft_component(self, spec: ModelSpec, fmt: QuantFormat, settings: RunSettings) -> Component:
        """``--draft-model``: a second mlx-lm model with its own prompt cache (mlx_lm/generate.py speculative_generate_step)."""
        draft = settings.draft
        assert draft is not None
        _est, gpu, _ = draft_parts(self, spec, settings, with_buffers=False)
        rule = (
            f"draft {draft.spec.name} in {draft.format.id}: weights {format_short(gpu['draft_weights'])} + its "
            f"prompt cache {format_short(gpu['draft_kv_cache'])} for the same tokens"
        )
        warning = draft_note(spec, draft.spec)
        if warning:
            rule += f"; {warning}"
        return Component(
            "draft",
            Figure(
                sum(gpu.values()),
                rule,
                keys=("draft_model", "draft_format", "context"),
                source="ml-explore/mlx-lm v0.31.3 mlx_lm/generate.py (--draft-model, --num-draft-tokens 3)",
                parts=gpu,
            ),
        )

    def launch(self, est: MemoryEstimate, answer: FitAnswer | None = None) -> Launch | None:
        return mlx_launch(est, answer)


ENGINE = register_engine(MlxEngine())

__all__ = ["ENGINE", "PLAIN_FORMATS", "MlxEngine"]
