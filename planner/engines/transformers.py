"""Hugging Face transformers (5.x) on one GPU: ``model.generate`` with a ``DynamicCache``.

Placement: every weight on the GPU (``device_map="cuda"``); nothing stays in host memory
once loaded. KV: :func:`planner.memory.kv.transformers_cache` (exact). Activations: the
peak of a prefill of ``context`` tokens at ``batch`` (structural estimate, banded).
Overhead: CUDA context, cuBLAS workspaces and caching-allocator slack (empirical, banded).
"""

from __future__ import annotations

from planner.engines import register_engine
from planner.engines.base import Engine
from planner.engines.constants import MIB, constant, empirical, model_dtype, model_shape
from planner.formats.base import QuantFormat, WeightsReport
from planner.memory import kv
from planner.memory.estimate import MemoryEstimate, RunSettings, SettingsError
from planner.memory.figure import Figure
from planner.model.spec import AttentionKind, ModelSpec, Role

SOURCE = (
    "huggingface/transformers 5.x: cache_utils.py (DynamicLayer, DynamicSlidingWindowLayer, "
    "LinearAttentionLayer), generation/utils.py (logits_to_keep=1), integrations/sdpa_attention.py, "
    "models/llama/modeling_llama.py (eager_attention_forward, LlamaMLP)"
)
ATTN_IMPLEMENTATIONS = {None: "sdpa", True: "flash_attention_2", False: "eager"}


def weights_figure(report: WeightsReport, where: str) -> Figure:
    """Exact weight bytes from the format's per-tensor storage, with bytes per role as parts."""
    parts: dict[str, int] = {}
    for t in report.tensors:
        parts[t.group.role.value] = parts.get(t.group.role.value, 0) + t.bytes
    total = report.total_bytes
    return Figure(
        total,
        f"sum of {len(report.tensors)} tensor groups stored as {report.format_id} ({where}) = {kv.fmt_bytes(total)}",
        keys=("format",),
        source="the format's per-tensor storage (planner/formats)",
        parts=parts,
    )


def zero(rule: str) -> Figure:
    """An exact zero with its reason."""
    return Figure(0, rule)


def ignored_settings(settings: RunSettings, engine: str, names: tuple[str, ...]) -> list[str]:
    """Notes for settings another engine uses and this one ignores."""
    labels = {
        "ubatch": "ubatch (llama.cpp)",
        "gpu_layers": "gpu-layers (llama.cpp)",
        "gpu_memory_utilization": "gpu-memory-utilization (vLLM)",
        "max_num_batched_tokens": "max-num-batched-tokens (vLLM)",
        "flash_attn": "flash-attn",
    }
    return [
        f"{labels[n]} does not apply to {engine}; ignored" for n in names if getattr(settings, n) is not None
    ]


def resolve_plain_kv(
    settings: RunSettings, auto: str, valid: tuple[str, ...], engine: str
) -> tuple[str, str]:
    """K and V cache types for engines that cache plain dtypes; ``auto`` -> ``auto``."""
    out = []
    for which, value in (("K", settings.kv_dtype_k), ("V", settings.kv_dtype_v)):
        name = kv.normalize_cache_type(value)
        name = auto if name == "auto" else name
        if name not in valid:
            raise SettingsError(
                f"{engine} cannot keep the {which} cache as '{value:.20}'; valid: auto, {', '.join(valid)}"
            )
        out.append(name)
    return out[0], out[1]


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
            settings, self.id, ("ubatch", "gpu_layers", "gpu_memory_utilization", "max_num_batched_tokens")
        )
        notes.append(
            f"transformers' DynamicCache stores K/V in the activation dtype ({dtype}); quantized caches "
            "(QuantizedCache with quanto/HQQ) are not modelled"
        )

        report = fmt.weights(spec)
        weights = weights_figure(report, "all on the GPU")

        layers, lines = kv.transformers_cache(spec, cache_t, settings.context, settings.batch)
        kv_fig = kv.cache_figure(
            layers,
            lines,
            keys=("context", "batch", "num_key_value_heads", "head_dim", "sliding_window", "kv_lora_rank"),
            source="transformers cache_utils.py (DynamicLayer / DynamicSlidingWindowLayer keeps window-1 / LinearAttentionLayer)",
        )
        activations = self._activations(spec, cache_t, settings, attn, report)
        overhead = self._overhead(kv_fig.bytes + activations.bytes)

        host_rule = (
            "transformers keeps no weights, cache or buffers in host memory once the model is on the GPU "
            "(the Python process itself, ~1-2 GiB RSS with torch and CUDA libraries, is not counted)"
        )
        if any(layer.attention is AttentionKind.MLA for layer in spec.layers):
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

    # -----------------------------------------------------------------------------------------

    def _activations(
        self, spec: ModelSpec, cache_t: kv.CacheType, settings: RunSettings, attn: str, report: WeightsReport
    ) -> Figure:
        """Peak transient of a prefill of ``context`` tokens (plus what the prefill pins) and of decoding.

        # NOTE: calibrate (transformers_activation_factor in data/engines.json).
        # Prefill, per layer: the residual stream (hidden + residual, plus an fp32 RMSNorm temporary)
        # and the larger of the attention transient (q/k/v, rotated q/k, output; eager adds the
        # [b, heads, ctx, ctx] scores in dtype + fp32 softmax + cast back) and the MLP transient
        # (act(gate), up and their product, each [tokens, intermediate]); routed experts run
        # integrations/moe.py grouped_mm_experts_forward (the default "grouped_mm"): for S = tokens x
        # top_k pairs it holds the gathered inputs [S, hidden] with either gate_up [S, 2I], act(gate)
        # and the product [S, I] each, or four [S, hidden] copies around the weighting and the
        # un-permuting gather, plus int64 sort indices. generate() passes
        # logits_to_keep=1 (generation/utils.py), so logits are [batch, 1, vocab] plus an fp32 copy.
        # Sliding layers pin the whole prompt's K/V until the first decode step (exact part).
        # Two terms sit on top of the largest transient: the boolean [batch, 1, context, context]
        # mask SDPA gets once a sliding layer's window is shorter than the prompt
        # (masking_utils._ignore_causal_mask_sdpa cannot skip it), and LLM.int8's matmul
        # temporaries (:func:`int8_matmul_transient`).
        """
        shape = model_shape(spec)
        a = cache_t.block_bytes
        b, ctx = settings.batch, settings.context
        tokens = b * ctx
        residual = tokens * shape.hidden * (2 * a + 4)
        q_width = shape.query_heads * shape.head_dim
        attention = tokens * (2 * q_width + 2 * shape.kv_dim + shape.hidden) * a
        if shape.mla_expand:
            attention = tokens * (2 * q_width + 2 * shape.mla_expand + shape.hidden) * a
        if attn == "eager":
            attention += b * shape.query_heads * ctx * ctx * (2 * a + 4)
            attention += tokens * 2 * q_width * a  # repeat_kv copies of K and V
        mlp = 3 * tokens * shape.ffn * a
        moe = 0
        if shape.expert_ffn and shape.top_k:
            pairs = tokens * shape.top_k
            moe = pairs * (max(shape.hidden + 4 * shape.expert_ffn, 4 * shape.hidden) * a + 3 * 8)
        linear = 0
        ssm_in = [t.shape[0] for t in spec.tensors if t.role is Role.SSM_IN and len(t.shape) == 2]
        if ssm_in:
            linear = 3 * tokens * max(ssm_in) * a
        transient = max(attention, mlp, moe, linear)
        mask = sliding_mask_bytes(spec, ctx, b) if attn == "sdpa" else 0
        int8 = int8_matmul_transient(report, tokens)
        logits = b * shape.vocab * (a + 4)
        retention = kv.transformers_sliding_retention(spec, cache_t, ctx, b)
        prefill = residual + transient + mask + int8 + logits
        factor = constant("transformers_activation_factor")
        point, low, high = factor.scale(prefill)
        which = {attention: "attention", mlp: "mlp", moe: "moe_experts", linear: "linear_mixer"}[transient]
        parts = {"residual_stream": residual, which: transient, "logits": logits}
        if mask:
            parts["sliding_window_mask"] = mask
        if int8:
            parts["int8_matmul"] = int8
        if retention:
            parts["sliding_prefill_retention"] = retention
        scale = point / prefill if prefill else 1.0
        parts = {k: round(v * scale) if k != "sliding_prefill_retention" else v for k, v in parts.items()}
        total = sum(parts.values())
        rule = (
            f"prefill of {b} x {ctx:,} tokens ({attn}): residual {kv.fmt_bytes(residual)} + "
            f"max(attention {kv.fmt_bytes(attention)}, mlp {kv.fmt_bytes(mlp)}"
            + (f", moe {kv.fmt_bytes(moe)}" if moe else "")
            + (f", mixer {kv.fmt_bytes(linear)}" if linear else "")
            + ")"
            + (f" + sliding-window mask {kv.fmt_bytes(mask)}" if mask else "")
            + (f" + LLM.int8 matmul {kv.fmt_bytes(int8)}" if int8 else "")
            + f" + last-token logits {kv.fmt_bytes(logits)} (logits_to_keep=1, fp32 copy)"
            + (f" x {factor.value:g}" if factor.value != 1 else "")
            + (
                f" + sliding layers pin the prompt's K/V until the first decode step {kv.fmt_bytes(retention)}"
                if retention
                else ""
            )
        )
        return empirical(
            total,
            low + retention,
            high + retention,
            rule,
            keys=(
                "context",
                "batch",
                "hidden_size",
                "intermediate_size",
                "vocab_size",
                "num_attention_heads",
            ),
            source=f"{SOURCE}; {factor.source}",
            parts=parts,
        )

    def _overhead(self, dynamic: int) -> Figure:
        """What the process holds beyond tensors: outside torch, cuBLAS workspaces, allocator slack.

        Fitted on GPU records (planner/calibration.py, data/measurements/*/calibration.json).

        # NOTE: calibrate (cuda_context_mib, torch_kernels_workspace_mib, torch_allocator_slack_fraction).
        """
        ctx = constant("cuda_context_mib")
        kern = constant("torch_kernels_workspace_mib")
        slack = constant("torch_allocator_slack_fraction")
        s_point, s_low, s_high = slack.scale(dynamic)
        point = ctx.bytes + kern.bytes + s_point
        low = ctx.band_bytes[0] + kern.band_bytes[0] + s_low
        high = ctx.band_bytes[1] + kern.band_bytes[1] + s_high
        rule = (
            f"outside torch (CUDA context, kernel modules) {ctx.value:g} MiB + cuBLAS workspaces in torch's "
            f"allocator {kern.value:g} MiB + "
            f"caching-allocator slack {slack.value:g} x (KV + activations) {kv.fmt_bytes(s_point)}"
        )
        return empirical(
            point,
            low,
            high,
            rule,
            keys=(),
            source=f"{ctx.source}; {kern.source}; {slack.source}",
            parts={"cuda_context": ctx.bytes, "cublas_and_kernels": kern.bytes, "allocator_slack": s_point},
        )


def sliding_mask_bytes(spec: ModelSpec, context: int, batch: int) -> int:
    """The boolean ``[batch, 1, context, context]`` mask SDPA gets for sliding layers.

    # NOTE: masking_utils.sdpa_mask returns None (SDPA's ``is_causal``) for full causal layers
    # without padding, but ``_ignore_causal_mask_sdpa`` refuses once ``kv_length >=
    # local_attention_size``, so a prompt longer than the window materializes one bool mask
    # (1 byte an element, expanded to the batch by generate()'s all-ones attention_mask).
    """
    windows = [
        layer.window
        for layer in spec.layers
        if layer.attention is AttentionKind.SLIDING and layer.window is not None
    ]
    if not windows or context < min(windows):
        return 0
    return batch * context * context


def int8_matmul_transient(report: WeightsReport, tokens: int) -> int:
    """LLM.int8's temporaries for the widest quantized linear layer at ``tokens`` rows.

    # NOTE: bitsandbytes autograd/_functions.py MatMul8bitLt.forward and backends/cuda/ops.py:
    # ``A.to(torch.float16)`` (2 B), the int8 row-quantized copy ``CA`` (1 B) and the outlier
    # mask ``A.abs() >= threshold`` (1 B) per input element; the int32 product (4 B) and its
    # dequantized output (2 B) per output element. Outlier columns (data dependent) are not counted.
    """
    if report.format_id != "bnb-int8":
        return 0
    widest = 0
    for t in report.tensors:
        if t.quantized and len(t.group.shape) == 2:
            out_f, in_f = t.group.shape
            widest = max(widest, 4 * in_f + 6 * out_f)
    return tokens * widest


ENGINE = register_engine(TransformersEngine())

__all__ = [
    "ENGINE",
    "MIB",
    "TransformersEngine",
    "ignored_settings",
    "resolve_plain_kv",
    "weights_figure",
    "zero",
]
