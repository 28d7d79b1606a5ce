"""SGLang and TensorRT-LLM as planner engines: what ``batch`` requests of ``context`` tokens need.

Like the vLLM engine, these report the weights, the KV the requests occupy, the activation peak and
the overhead of one GPU; what each engine reserves at start-up (its budget and the tokens its pool
holds) is :func:`planner.serving.sglang.startup` / :func:`planner.serving.trtllm.startup`.
"""

from __future__ import annotations

from planner.engines.base import Engine
from planner.engines.constants import constant, empirical, model_dtype, model_shape
from planner.formats.base import QuantFormat
from planner.memory import kv
from planner.memory.estimate import MemoryEstimate, RunSettings, SettingsError
from planner.memory.figure import Figure
from planner.model.spec import AttentionKind, ModelSpec
from planner.serving import sglang as sglang_rules
from planner.serving import trtllm as trtllm_rules
from planner.serving.forward import forward

#: Format families SGLang loads from safetensors checkpoints, plus GPTQ/AWQ (GGUF, EXL2/3 and HQQ are other runtimes').
SGLANG_FAMILIES = frozenset({"dense", "bitsandbytes", "mxfp4"})
SGLANG_SOURCE = (
    "sgl-project/sglang docs (quantization: FP8, AWQ, GPTQ, bitsandbytes, MXFP4 for gpt-oss); "
    "python/sglang/srt/layers/quantization"
)
TRTLLM_FORMATS = (
    "fp16",
    "bf16",
    "fp8",
    "fp8-tensor",
    "fp8-channel",
    "fp8-block",
    "awq-int4",
    "gptq-int4",
    "mxfp4",
)
TRTLLM_SOURCE = (
    "NVIDIA/TensorRT-LLM docs (PyTorch backend quantization: FP8 per tensor/channel/block, W4A16 AWQ/GPTQ, "
    "MXFP4 for gpt-oss, NVFP4)"
)


def _zero(rule: str) -> Figure:
    return Figure(0, rule)


def _kv_dtype(settings: RunSettings, model: str, engine: str) -> kv.CacheType:
    names = {kv.normalize_cache_type(settings.kv_dtype_k), kv.normalize_cache_type(settings.kv_dtype_v)}
    if len(names) > 1:
        raise SettingsError(
            f"{engine} has one --kv-cache-dtype for K and V; got {' and '.join(sorted(names))}"
        )
    name = names.pop()
    name = model if name == "auto" else name
    if name not in (model, "bf16", "fp16", "fp8", "fp8_e4m3", "fp8_e5m2"):
        raise SettingsError(
            f"{engine} cannot keep the KV cache as '{name:.20}'; valid: auto, bf16, fp16, fp8"
        )
    return kv.cache_type(name)


def token_cache(
    spec: ModelSpec, dtype: kv.CacheType, cells: int, batch: int, block: int
) -> tuple[tuple[kv.LayerCache, ...], list[str]]:
    """Per-token pools (SGLang page 1, TensorRT-LLM 32-token blocks): every attention layer holds
    ``cells`` tokens per request (sliding layers too: both engines size them to the request unless a
    hybrid SWA pool is configured); MLA one latent; recurrent layers one state per request."""
    cells = -(-cells // block) * block
    out = []
    b = dtype.bytes_per_element
    for layer in spec.layers:
        if layer.attention in (AttentionKind.FULL, AttentionKind.SLIDING):
            k = round(batch * cells * layer.kv_heads * layer.k_head_dim * b)
            v = round(batch * cells * layer.kv_heads * layer.v_head_dim * b)
            out.append(kv.LayerCache(layer.index, layer.attention, cells, k, v))
        elif layer.attention is AttentionKind.MLA:
            out.append(
                kv.LayerCache(
                    layer.index, layer.attention, cells, round(batch * cells * layer.latent_dim * b), 0
                )
            )
        elif layer.attention is AttentionKind.LINEAR:
            out.append(
                kv.LayerCache(
                    layer.index, layer.attention, 0, 0, 0, state_bytes=batch * layer.state_elements * 4
                )
            )
        else:
            out.append(kv.LayerCache(layer.index, layer.attention, 0, 0, 0))
    per = sum(layer.kv_elements_per_token for layer in spec.layers)
    lines = [
        f"{batch} request(s) x {cells:,} tokens ({block}-token pages) x {per:,} elements x {b:g} B ({dtype.name})"
    ]
    return tuple(out), lines


def _activations(
    spec: ModelSpec, fmt: QuantFormat, tokens: int, logits_rows: int, source: str, factor_name: str | None
) -> Figure:
    act = 4 if model_dtype(fmt) == "fp32" else 2
    f = forward(spec, act, tp=1, tokens=tokens)
    logits = logits_rows * model_shape(spec).vocab * 4
    point = f.peak + logits
    low, high = point, point
    if factor_name:
        point, low, high = constant(factor_name).scale(point)
    return empirical(
        point,
        low,
        high,
        f"forward of {tokens:,} tokens (residual {kv.fmt_bytes(f.residual)} + transient {kv.fmt_bytes(f.transient)}"
        + (f" + MoE workspaces {kv.fmt_bytes(f.moe_workspace)}" if f.moe_workspace else "")
        + f") + float32 logits of {logits_rows:,} row(s) {kv.fmt_bytes(logits)}",
        keys=("context", "hidden_size", "intermediate_size", "vocab_size"),
        source=source,
        parts={"forward": f.peak, "logits": logits},
    )


class SglangEngine(Engine):
    """SGLang: a per-token KV pool sized from ``mem_fraction_static``; no profiling run."""

    id = "sglang"
    description = "SGLang (python -m sglang.launch_server), one GPU, per-token KV pool"
    source = f"{sglang_rules.SRC_ARGS}; {sglang_rules.SRC_POOL}"
    kv_dtypes = ("auto", "bf16", "fp16", "fp8", "fp8_e4m3", "fp8_e5m2")

    def loads(self, fmt: QuantFormat) -> bool:
        return (fmt.family in SGLANG_FAMILIES and fmt.id != "int8") or fmt.id.startswith(("gptq-", "awq-"))

    def estimate(self, spec: ModelSpec, fmt: QuantFormat, settings: RunSettings) -> MemoryEstimate:
        dtype = model_dtype(fmt)
        cache_t = _kv_dtype(settings, dtype, "SGLang")
        report = fmt.weights(spec)
        weights = Figure(
            report.total_bytes,
            f"checkpoint tensors as {report.format_id}",
            keys=("format",),
            source=SGLANG_SOURCE,
        )
        layers, lines = token_cache(spec, cache_t, settings.context, settings.batch, 1)
        kv_fig = kv.cache_figure(
            layers, lines, keys=("context", "batch", "kv_dtype_k"), source=sglang_rules.SRC_POOL
        )
        chunk = sglang_rules.gpu_defaults(80 * 1024, 1)[0]
        activations = _activations(
            spec,
            fmt,
            min(settings.context * settings.batch, chunk),
            settings.batch,
            f"structural: a chunked-prefill step of at most chunked_prefill_size tokens ({sglang_rules.SRC_ARGS})",
            None,
        )
        ctx = constant("cuda_context_mib")
        graphs = 256 * 2 * (1 << 20)
        overhead = empirical(
            ctx.bytes + graphs,
            ctx.band_bytes[0],
            ctx.band_bytes[1] + graphs,
            f"CUDA context {ctx.value:g} MiB + CUDA graphs (SGLang's own estimate: cuda_graph_max_bs 256 x 2 MiB)",
            keys=(),
            source=f"{ctx.source}; {sglang_rules.SRC_ARGS}",
            parts={"cuda_context": ctx.bytes, "cuda_graphs": graphs},
        )
        notes = [
            "SGLang keeps mem_fraction_static x free memory for weights and the KV pool and leaves the rest for "
            "activations and CUDA graphs; the pool's token capacity on a GPU is the fit check's question",
        ]
        return MemoryEstimate(
            model=spec,
            format=fmt,
            engine=self.id,
            settings=settings,
            kv_dtype=cache_t.name,
            weights_report=report,
            weights=weights,
            kv_cache=kv_fig,
            activations=activations,
            overhead=overhead,
            host_weights=_zero("SGLang keeps the weights on the GPU"),
            host_kv_cache=_zero("no host KV cache (hierarchical cache off)"),
            host_activations=_zero("SGLang keeps activations on the GPU"),
            notes=tuple(notes),
        )


class TrtllmEngine(Engine):
    """TensorRT-LLM (PyTorch backend): a dry run, then a fraction of the free memory for KV blocks."""

    id = "trtllm"
    description = "TensorRT-LLM (trtllm-serve, PyTorch backend), one GPU, paged KV cache in 32-token blocks"
    source = trtllm_rules.SRC
    kv_dtypes = ("auto", "bf16", "fp16", "fp8")

    def loads(self, fmt: QuantFormat) -> bool:
        return fmt.id in TRTLLM_FORMATS

    def estimate(self, spec: ModelSpec, fmt: QuantFormat, settings: RunSettings) -> MemoryEstimate:
        dtype = model_dtype(fmt)
        cache_t = _kv_dtype(settings, dtype, "TensorRT-LLM")
        report = fmt.weights(spec)
        weights = Figure(
            report.total_bytes,
            f"checkpoint tensors as {report.format_id}",
            keys=("format",),
            source=TRTLLM_SOURCE,
        )
        layers, lines = token_cache(
            spec, cache_t, settings.context, settings.batch, trtllm_rules.TOKENS_PER_BLOCK
        )
        kv_fig = kv.cache_figure(
            layers, lines, keys=("context", "batch", "kv_dtype_k"), source=trtllm_rules.SRC
        )
        tokens = trtllm_rules.MAX_NUM_TOKENS
        reqs = -(-tokens // max(min(settings.context, tokens), 1))
        activations = _activations(
            spec,
            fmt,
            tokens,
            reqs,
            f"{trtllm_rules.SRC} (dry run of max_num_tokens)",
            "trtllm_activation_factor",
        )
        ctx = constant("cuda_context_mib")
        overhead = empirical(
            ctx.bytes,
            ctx.band_bytes[0],
            ctx.band_bytes[1],
            f"CUDA context {ctx.value:g} MiB (CUDA graphs are captured during warm-up, inside the dry-run peak)",
            keys=(),
            source=ctx.source,
            parts={"cuda_context": ctx.bytes},
        )
        notes = [
            f"TensorRT-LLM gives the KV cache free_gpu_memory_fraction ({trtllm_rules.FREE_FRACTION:g}) of the memory "
            "its dry run leaves free (not of the total); the pool's token capacity is the fit check's question",
        ]
        return MemoryEstimate(
            model=spec,
            format=fmt,
            engine=self.id,
            settings=settings,
            kv_dtype=cache_t.name,
            weights_report=report,
            weights=weights,
            kv_cache=kv_fig,
            activations=activations,
            overhead=overhead,
            host_weights=_zero("TensorRT-LLM keeps the weights on the GPU"),
            host_kv_cache=_zero("no host KV cache (host cache size 0 by default)"),
            host_activations=_zero("TensorRT-LLM keeps activations on the GPU"),
            notes=tuple(notes),
        )


__all__ = ["SglangEngine", "TrtllmEngine", "token_cache"]
