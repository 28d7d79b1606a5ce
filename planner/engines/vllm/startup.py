"""vLLM V1 at start-up, re-derived from its source for v0.19.0 (one rank of ``--tensor-parallel-size``).

``Worker.init_device`` (vllm/v1/worker/gpu_worker.py) takes ``requested_memory =
init_snapshot.total_memory x gpu_memory_utilization`` after the CUDA context and NCCL exist;
``load_model`` logs ``Model loading took X GiB`` (the allocator's growth while loading,
``GPUModelRunner.load_model`` with ``DeviceMemoryProfiler``); ``determine_available_memory`` runs
``profile_run`` inside ``memory_profiling`` (vllm/utils/mem_utils.py) and gives the KV cache
``requested_memory - (weights + torch_peak_increase + non_torch_increase)``, or exactly
``--kv-cache-memory`` bytes (``cache_config.kv_cache_memory_bytes``: no profiling budget).
``get_kv_cache_config`` (vllm/v1/core/kv_cache_utils.py) cuts that into 16-token pages per layer.
CUDA graphs are captured afterwards (``compile_or_warm_up_model``), from the memory the
utilization leaves; since v0.21 their estimate is taken out of the KV budget first
(``VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS``: "CUDA graph memory profiling is enabled (default since
v0.21.0)" in vLLM's own log, quoted in github.com/noonghunna/club-3090/issues/127; vllm-project/vllm PR #30515).
"""

from __future__ import annotations

from planner.engines.constants import constant, default, empirical
from planner.engines.shape import model_dtype
from planner.engines.tensor_parallel import kv_bytes_per_token, kv_heads_per_rank
from planner.engines.vllm.activations import activations_figure
from planner.engines.vllm.kv import vllm_cache
from planner.engines.vllm.overhead import SRC_WORKER, cuda_graphs, non_torch
from planner.engines.vllm.weights import weights, weights_figure
from planner.errors import PlannerError
from planner.formats.base import QuantFormat
from planner.hardware.units import format_short
from planner.memory import kv
from planner.memory.figure import Figure
from planner.memory.startup import ServerSettings, Startup
from planner.model.spec import AttentionKind, ModelSpec

VERSION = "0.19.0"
GIB = 1 << 30
#: ``get_batch_defaults`` treats a GPU as "large" from 70 GiB (and never an A100).
LARGE_GPU_BYTES = 70 * GIB
BLOCK_SIZE = 16

SRC_KV = (
    "vllm-project/vllm vllm/v1/kv_cache_interface.py (page = block_size x kv_heads x head_size x 2 x dtype); "
    "vllm/v1/core/kv_cache_utils.py (num_blocks = available // page_size // num_layers; 'GPU KV cache size: "
    "num_blocks x block_size tokens')"
)
SRC_DEFAULTS = (
    "vllm-project/vllm vllm/engine/arg_utils.py EngineArgs.get_batch_defaults (vllm serve: 8192 tokens and 1024 "
    "sequences on >= 70 GiB non-A100 GPUs, else 2048 and 256)"
)


def batch_defaults(device_bytes: int, gpu_name: str = "") -> tuple[int, int]:
    """``(max_num_batched_tokens, max_num_seqs)`` of ``vllm serve`` on this GPU (``get_batch_defaults``)."""
    if device_bytes >= LARGE_GPU_BYTES and "a100" not in gpu_name.lower():
        return 8192, 1024
    return 2048, 256


def kv_dtype_bytes(kv_cache_dtype: str, act_bytes: int) -> float:
    """Bytes per KV element: the model dtype for ``auto``, 1 for the fp8 variants."""
    name = (kv_cache_dtype or "auto").lower()
    if name == "auto":
        return act_bytes
    if name.startswith("fp8"):
        return 1
    if name in ("bf16", "bfloat16", "fp16", "float16", "half"):
        return 2
    if name in ("fp32", "float32"):
        return 4
    raise PlannerError(f"unknown vLLM --kv-cache-dtype '{kv_cache_dtype:.40}'; use auto, bf16, fp16 or fp8")


def kv_tokens(
    spec: ModelSpec,
    pool: int,
    dtype_bytes: float,
    tp: int,
    *,
    context: int = 8192,
    max_num_batched_tokens: int = 8192,
    state_bytes: float = 2,
) -> tuple[int, int]:
    """``(tokens, bytes per token)`` one rank's pool holds: ``get_kv_cache_config`` (kv_cache_utils.py).

    # NOTE: uniform models: ``num_blocks = pool // page_size // num_layers``, tokens = ``num_blocks x
    # block_size``. Hybrid models: layers in groups of ``group_size`` share a block id, ``num_blocks =
    # pool // page_size // group_size`` and the logged size is ``num_blocks // num_groups x block_size``
    # (the per-layer pages come from :func:`planner.engines.vllm.kv.vllm_cache`, KV heads per rank).
    """
    per_token = kv_bytes_per_token(spec, dtype_bytes, tp)
    cache_t = kv.cache_type({1: "fp8", 2: "bf16", 4: "fp32"}.get(round(dtype_bytes), "bf16"))
    state_t = kv.cache_type({2: "bf16", 4: "fp32"}.get(round(state_bytes), "bf16"))
    layers, _, layout = vllm_cache(spec, cache_t, state_t, context, 1, max_num_batched_tokens, BLOCK_SIZE)
    cached = [layer for layer in layers if layer.kind is not AttentionKind.NONE]
    if pool <= 0 or not cached:
        return 0, per_token
    heads = {layer.index: layer.kv_heads for layer in spec.layers}

    def blocks(layer: kv.LayerCache) -> int:
        return layer.cells // layout.attn_block if layer.cells else 1

    def page(layer: kv.LayerCache) -> int:
        whole = (layer.k_bytes + layer.v_bytes + layer.state_bytes) // blocks(layer)
        h = heads.get(layer.index, 0)
        if layer.kind in (AttentionKind.FULL, AttentionKind.SLIDING) and h:
            return whole * kv_heads_per_rank(h, tp) // h
        return whole

    pages = [page(layer) for layer in cached]
    kinds: dict[AttentionKind, int] = {}
    for layer in cached:
        kinds[layer.kind] = kinds.get(layer.kind, 0) + 1
    if len(kinds) == 1:
        return pool // sum(pages) * layout.attn_block, per_token
    span = layout.group_size or max(kinds.values())
    groups = sum(kv.cdiv(n, span) for n in kinds.values())
    num_blocks = pool // max(pages) // span
    return num_blocks // groups * layout.attn_block, per_token


def startup(
    spec: ModelSpec,
    fmt: QuantFormat,
    device_bytes: int,
    settings: ServerSettings | None = None,
    *,
    gpu_name: str = "",
    compute_capability: tuple[int, int] | None = None,
    mxfp4: str | None = None,
    cudagraph_profiling: bool = False,
) -> Startup:
    """One rank of ``vllm serve`` on a GPU of ``device_bytes`` (what ``cudaMemGetInfo`` calls total)."""
    s = settings or ServerSettings()
    tp = s.tensor_parallel
    util = s.gpu_memory_utilization or float(default("vllm", "gpu_memory_utilization"))
    d_tokens, d_seqs = batch_defaults(device_bytes, gpu_name)
    mnbt = s.max_num_batched_tokens or d_tokens
    seqs = s.max_num_seqs or d_seqs
    act = 4 if model_dtype(fmt) == "fp32" else 2
    notes: list[str] = []

    w = weights(spec, fmt, tp=tp, compute_capability=compute_capability, backend=mxfp4)
    weights_fig = weights_figure(w)
    profile_fig = activations_figure(spec, act, tp=tp, max_num_batched_tokens=mnbt, max_num_seqs=seqs)
    peak = profile_fig.bytes
    nt = non_torch(tp)
    graphs = cuda_graphs(s.enforce_eager)
    requested = int(device_bytes * util)
    budget = Figure(
        requested,
        f"gpu_memory_utilization {util:g} x total {format_short(device_bytes)}",
        keys=("gpu_memory_utilization",),
        source=SRC_WORKER,
    )
    if s.kv_cache_memory is not None:
        pool = s.kv_cache_memory
        pool_rule = (
            f"--kv-cache-memory {format_short(pool)}: the KV cache is exactly this (utilization ignored)"
        )
        notes.append(
            "--kv-cache-memory skips the utilization budget: vLLM still runs the profile (to compile) but "
            "gives the KV cache exactly this many bytes, whatever the GPU has free"
        )
    else:
        pool = requested - w.bytes - peak - nt.bytes
        pool_rule = (
            f"requested {format_short(requested)} - weights {format_short(w.bytes)} - profile peak "
            f"{format_short(peak)} - non-torch {format_short(nt.bytes)}"
        )
        if cudagraph_profiling and graphs.bytes:
            pool -= graphs.bytes
            pool_rule += f" - CUDA graphs {format_short(graphs.bytes)} (v0.21+ estimate)"
    dtype_b = kv_dtype_bytes(s.kv_cache_dtype, act)
    tokens, per_token = kv_tokens(
        spec, pool, dtype_b, tp, context=s.max_model_len or 8192, max_num_batched_tokens=mnbt, state_bytes=act
    )
    low_pool = requested - w.bytes - profile_fig.band[1] - nt.band[1]
    high_pool = requested - w.bytes - profile_fig.band[0] - nt.band[0]
    if s.kv_cache_memory is not None:
        low_pool = high_pool = pool
    kv_fig = empirical(
        max(pool, 0),
        max(low_pool, 0),
        max(high_pool, 0),
        pool_rule
        + f" = {format_short(pool)}; {tokens:,} tokens of {per_token:,} B in {BLOCK_SIZE}-token pages",
        keys=("gpu_memory_utilization", "kv_cache_memory", "kv_cache_dtype"),
        source=f"{SRC_WORKER}; {SRC_KV}",
        parts={"kv_pool": max(pool, 0)},
    )
    ctx = constant("cuda_context_mib")
    outside_bytes = ctx.bytes + (0 if cudagraph_profiling else graphs.bytes)
    outside = empirical(
        outside_bytes,
        ctx.band_bytes[0] + (0 if cudagraph_profiling else graphs.band[0]),
        ctx.band_bytes[1] + (0 if cudagraph_profiling else graphs.band[1]),
        "CUDA context (before the init snapshot)"
        + ("" if cudagraph_profiling else " + CUDA graphs (captured after the KV cache)"),
        keys=("enforce_eager",),
        source=f"{ctx.source}; {SRC_WORKER}",
        parts={"cuda_context": ctx.bytes, "cuda_graphs": 0 if cudagraph_profiling else graphs.bytes},
    )
    if pool <= 0:
        notes.append(
            f"vLLM would refuse to start: 'Available KV cache memory: {pool / GIB:.2f} GiB' (no memory for the "
            "cache blocks); raise --gpu-memory-utilization, lower --max-num-batched-tokens/--max-num-seqs, "
            "add GPUs or pick a smaller format"
        )
    if s.max_model_len and 0 < tokens < s.max_model_len:
        notes.append(
            f"vLLM would refuse to start: one request of max_model_len {s.max_model_len:,} needs more than the "
            f"{tokens:,} tokens the pool holds; lower --max-model-len or raise the memory"
        )
    return Startup(
        engine="vllm",
        version=VERSION,
        tensor_parallel=tp,
        device_bytes=device_bytes,
        budget=budget,
        weights=weights_fig,
        profile_peak=profile_fig,
        non_torch=nt,
        cuda_graphs=graphs,
        kv_pool_bytes=pool,
        kv_pool=kv_fig,
        kv_bytes_per_token=per_token,
        kv_tokens=tokens,
        outside_budget=outside,
        settings={
            "gpu_memory_utilization": util,
            "max_num_batched_tokens": mnbt,
            "max_num_seqs": seqs,
            "kv_cache_dtype": s.kv_cache_dtype,
            "tensor_parallel": tp,
            "enforce_eager": s.enforce_eager,
            "batch_defaults_source": SRC_DEFAULTS,
        },
        notes=tuple(notes),
    )


__all__ = [
    "VERSION",
    "batch_defaults",
    "kv_dtype_bytes",
    "kv_tokens",
    "launch_args",
    "startup",
]


def launch_args(
    model: str, settings: ServerSettings, *, fmt_id: str = "bf16"
) -> tuple[list[str], dict[str, str]]:
    """``vllm serve`` arguments (and environment) that enforce this plan's flags."""
    s = settings
    args = ["vllm", "serve", model]
    if s.max_model_len:
        args += ["--max-model-len", str(s.max_model_len)]
    util = s.gpu_memory_utilization or float(default("vllm", "gpu_memory_utilization"))
    args += ["--gpu-memory-utilization", f"{util:g}"]
    if s.tensor_parallel > 1:
        args += ["--tensor-parallel-size", str(s.tensor_parallel)]
    if s.max_num_batched_tokens:
        args += ["--max-num-batched-tokens", str(s.max_num_batched_tokens)]
    if s.max_num_seqs:
        args += ["--max-num-seqs", str(s.max_num_seqs)]
    if s.kv_cache_dtype.lower().startswith("fp8"):
        args += ["--kv-cache-dtype", "fp8"]
    if s.kv_cache_memory:
        args += ["--kv-cache-memory", str(s.kv_cache_memory)]
    if s.enforce_eager:
        args.append("--enforce-eager")
    if fmt_id == "fp8":
        args += ["--quantization", "fp8"]  # online FP8 of a 16-bit checkpoint
    elif fmt_id in ("fp32", "fp16"):
        args += ["--dtype", {"fp32": "float32", "fp16": "float16"}[fmt_id]]
    return args, {}
