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

from dataclasses import dataclass

from planner.engines.constants import constant, default, empirical, model_dtype, model_shape
from planner.errors import PlannerError
from planner.formats.base import QuantFormat
from planner.memory import kv
from planner.memory.figure import Figure
from planner.memory.startup import ServerSettings, Startup
from planner.model.spec import AttentionKind, ModelSpec, Role
from planner.serving.forward import forward
from planner.serving.tp import kv_bytes_per_token, rank_shares

VERSION = "0.19.0"
GIB = 1 << 30
#: ``get_batch_defaults`` treats a GPU as "large" from 70 GiB (and never an A100).
LARGE_GPU_BYTES = 70 * GIB
BLOCK_SIZE = 16

SRC_WORKER = (
    "vllm-project/vllm v0.19.0 vllm/v1/worker/gpu_worker.py (Worker.init_device, determine_available_memory)"
)
SRC_PROFILE = (
    "vllm-project/vllm v0.19.0 vllm/v1/worker/gpu_model_runner.py (profile_run: _dummy_run(max_num_tokens) then "
    "_dummy_sampler_run over min(max_num_seqs, max_num_tokens) requests); vllm/utils/mem_utils.py memory_profiling "
    "(torch_peak_increase)"
)
SRC_MOE_WS = (
    "vllm-project/vllm vllm/model_executor/layers/fused_moe/fused_moe.py TritonExperts.workspace_shapes "
    "(workspace1 (M, topk, max(N // 2, K)), workspace2 (M, topk, max(N, K)), output (M, K)), held by the "
    "worker's workspace manager (gpu_worker.py init_workspace_manager)"
)
SRC_MXFP4 = (
    "vllm-project/vllm vllm/model_executor/layers/quantization/mxfp4.py (get_mxfp4_backend; "
    "Mxfp4MoEMethod.create_weights pads per backend)"
)
SRC_ROPE = (
    "vllm-project/vllm vllm/model_executor/layers/rotary_embedding (RotaryEmbedding registers cos_sin_cache "
    "[max_position, rotary_dim] in the model dtype as a buffer)"
)
SRC_KV = (
    "vllm-project/vllm vllm/v1/kv_cache_interface.py (page = block_size x kv_heads x head_size x 2 x dtype); "
    "vllm/v1/core/kv_cache_utils.py (num_blocks = available // page_size // num_layers; 'GPU KV cache size: "
    "num_blocks x block_size tokens')"
)
SRC_DEFAULTS = (
    "vllm-project/vllm vllm/engine/arg_utils.py EngineArgs.get_batch_defaults (vllm serve: 8192 tokens and 1024 "
    "sequences on >= 70 GiB non-A100 GPUs, else 2048 and 256)"
)


# ---------------------------------------------------------------------------------------------
# defaults
# ---------------------------------------------------------------------------------------------


def batch_defaults(device_bytes: int, gpu_name: str = "") -> tuple[int, int]:
    """``(max_num_batched_tokens, max_num_seqs)`` of ``vllm serve`` on this GPU (``get_batch_defaults``)."""
    if device_bytes >= LARGE_GPU_BYTES and "a100" not in gpu_name.lower():
        return 8192, 1024
    return 2048, 256


def mxfp4_backend(compute_capability: tuple[int, int] | None) -> str:
    """The MXFP4 MoE backend v0.19 picks with its default environment (``get_mxfp4_backend``).

    # NOTE: SM 10.x with FlashInfer (a vLLM dependency) -> FlashInfer MXFP4 x BF16; SM 9.0 ->
    # OpenAI triton_kernels (bundled; "triton_kernels are only confirmed to work on SM90 and
    # SM100"); anything else (Ampere 8.x, Ada 8.9, consumer Blackwell 12.x) -> Marlin, weight-only.
    """
    if compute_capability is None:
        return "marlin"
    if compute_capability[0] == 10:
        return "flashinfer-sm100"
    if compute_capability == (9, 0):
        return "triton"
    return "marlin"


def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m


#: backend -> (intermediate multiple, hidden multiple, expert biases in fp32)
_MXFP4_PADDING = {
    "marlin": (128, 256, False),
    "triton": (64, 256, True),
    "flashinfer-sm100": (256, 256, False),
    "flashinfer-sm90": (128, 128, False),
}


# ---------------------------------------------------------------------------------------------
# weights
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WeightsPlan:
    """One rank's weights as vLLM holds them after ``process_weights_after_loading``."""

    bytes: int
    checkpoint_bytes: int  # the same rank's share of the checkpoint tensors
    parts: dict[str, int]
    lines: tuple[str, ...]


def _rope_bytes(spec: ModelSpec, dtype_bytes: int) -> int:
    """``cos_sin_cache``: one [max_position, rotary_dim] buffer in the model dtype (shared by the layers)."""
    rotary = max((layer.k_head_dim for layer in spec.layers if layer.k_head_dim), default=0)
    if not rotary or not spec.max_position_embeddings:
        return 0
    return spec.max_position_embeddings * rotary * dtype_bytes


def weights(
    spec: ModelSpec,
    fmt: QuantFormat,
    *,
    tp: int = 1,
    compute_capability: tuple[int, int] | None = None,
    backend: str | None = None,
) -> WeightsPlan:
    """Bytes one rank holds after loading: the checkpoint share, MXFP4 padding, the rotary cache.

    # NOTE: GPTQ/AWQ are repacked to Marlin tiles (gptq_marlin.py / awq_marlin.py
    # process_weights_after_loading: ``gptq_marlin_repack`` keeps 4 bits per weight, scales are
    # permuted in place), FP8 checkpoints stay FP8 (CUTLASS/Machete read them as stored), online
    # ``--quantization fp8`` quantizes each linear weight to FP8 with one scale (Fp8LinearMethod):
    # none of these changes the size. MXFP4 MoE weights are padded per backend before loading
    # (``Mxfp4MoEMethod.create_weights``): Marlin pads the expert intermediate size to 128 and the
    # hidden size to 256 ("n % 256 == 0 and k % 128 == 0"); the SM100 FlashInfer backends pad both
    # to 256, the SM90 FlashInfer path to 128. The Hopper Triton path pads the intermediate size to
    # 64 and its swizzled layout grows the hidden side: modelled as hidden padded to 256, which
    # gives 64.40 GiB for gpt-oss-120b against the 64.38 GiB vLLM v0.14.1 logged (issue #33155);
    # expert biases become fp32 there. Attention, embeddings and lm_head stay 16-bit.
    """
    dtype_bytes = 4 if model_dtype(fmt) == "fp32" else 2
    report = fmt.weights(spec)
    shares = rank_shares(report, spec, tp)
    checkpoint = sum(s.bytes for s in shares)
    total = checkpoint
    parts: dict[str, int] = {"checkpoint_share": checkpoint}
    lines = [f"checkpoint share on 1 of {tp} rank(s): {kv.fmt_bytes(checkpoint)}"]
    if fmt.family == "mxfp4" or fmt.id.startswith("mxfp4"):
        chosen = backend or mxfp4_backend(compute_capability)
        if chosen not in _MXFP4_PADDING:
            raise PlannerError(
                f"unknown vLLM MXFP4 backend '{chosen:.40}'; known: {', '.join(_MXFP4_PADDING)}"
            )
        i_mult, h_mult, fp32_bias = _MXFP4_PADDING[chosen]
        grown = 0
        for s in shares:
            g = s.tensor.group
            if g.role is Role.EXPERT_GATE_UP and len(g.shape) == 2:
                i_rank, h = g.shape[0] // 2 // tp, g.shape[1]
                ratio = (_round_up(i_rank, i_mult) * _round_up(h, h_mult)) / (i_rank * h)
            elif g.role is Role.EXPERT_DOWN and len(g.shape) == 2:
                h, i_rank = g.shape[0], g.shape[1] // tp
                ratio = (_round_up(h, h_mult) * _round_up(i_rank, i_mult)) / (h * i_rank)
            elif g.role is Role.BIAS and "experts" in g.name and g.shape:
                width = g.shape[0]
                hidden = spec.hidden_size
                mult = h_mult if width == hidden else i_mult
                base = width if width == hidden else width // 2 // tp
                ratio = _round_up(base, mult) / base * (2 if fp32_bias else 1)
            else:
                continue
            grown += round(s.bytes * ratio) - s.bytes
        total += grown
        parts["mxfp4_padding"] = grown
        lines.append(
            f"MXFP4 MoE backend {chosen}: intermediate padded to {i_mult}, hidden to {h_mult}"
            + (", expert biases fp32" if fp32_bias else "")
            + f": +{kv.fmt_bytes(grown)}"
        )
    rope = _rope_bytes(spec, dtype_bytes)
    if rope:
        total += rope
        parts["rotary_cos_sin_cache"] = rope
        lines.append(
            f"rotary cos_sin_cache {spec.max_position_embeddings:,} positions x rotary dim x {dtype_bytes} B: "
            f"{kv.fmt_bytes(rope)}"
        )
    return WeightsPlan(total, checkpoint, parts, tuple(lines))


# ---------------------------------------------------------------------------------------------
# profile run
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProfilePlan:
    """The torch peak increase of ``profile_run`` and its terms (bytes, one rank)."""

    forward: int  # transient of the dummy forward (freed before the sampler)
    hidden_kept: int  # the forward's hidden states, still referenced while the sampler runs
    sampler: int  # dummy sampler over num_reqs x vocab logits
    moe_workspace: int  # fused-MoE workspaces, held by the workspace manager
    num_tokens: int
    num_reqs: int

    @property
    def peak(self) -> int:
        """``moe_workspace + max(forward, hidden_kept + sampler)``."""
        return self.moe_workspace + max(self.forward, self.hidden_kept + self.sampler)


def profile(
    spec: ModelSpec, act_bytes: int, *, tp: int, max_num_batched_tokens: int, max_num_seqs: int
) -> ProfilePlan:
    """The terms of ``profile_run`` with ``max_num_batched_tokens`` tokens over ``max_num_seqs`` requests.

    # NOTE: v0.19 ``profile_run``: ``hidden_states, last_hidden_states = _dummy_run(max_num_tokens,
    # is_profile=True)`` (the forward's transients are freed when it returns, its hidden states
    # stay referenced), then ``_dummy_sampler_run(last_hidden_states)``: ``compute_logits`` over one
    # row per request, the float32 copy, temperature/top-k/top-p and the probabilities (the dummy
    # metadata asks for all of them), ``num_reqs = min(max_num_seqs, max_num_tokens)``. The bytes
    # per logit of that sampler phase are fitted on public logs (vllm_sampler_bytes_per_logit).
    # The fused-MoE workspaces stay allocated (workspace manager) through both phases.
    """
    f = forward(spec, act_bytes, tp=tp, tokens=max_num_batched_tokens)
    reqs = min(max_num_seqs, max_num_batched_tokens)
    sampler = round(reqs * model_shape(spec).vocab * constant("vllm_sampler_bytes_per_logit").value)
    return ProfilePlan(
        f.residual + f.transient, f.hidden, sampler, f.moe_workspace, max_num_batched_tokens, reqs
    )


# ---------------------------------------------------------------------------------------------
# the start-up
# ---------------------------------------------------------------------------------------------


def non_torch(tp: int) -> Figure:
    """``non_torch_increase``: memory outside torch's allocator that appears after the init snapshot.

    # NOTE: the snapshot is taken after the CUDA context and NCCL communicators exist
    # (``init_device``), so what remains is attention-backend and kernel workspaces, plus with
    # tensor parallelism the custom all-reduce IPC buffers and NCCL's lazily allocated buffers
    # (about 2 GiB per rank in the public v0.19 logs). Fitted on public logs.
    """
    name = "vllm_non_torch_tp_mib" if tp > 1 else "vllm_non_torch_mib"
    c = constant(name)
    low, high = c.band_bytes
    return empirical(
        c.bytes,
        low,
        high,
        f"non-torch memory after the init snapshot at tensor parallel {tp}: {c.value:g} MiB ({name})",
        keys=("tensor_parallel",),
        source=c.source,
        parts={"non_torch": c.bytes},
    )


def cuda_graphs(enforce_eager: bool) -> Figure:
    """CUDA graph pool captured after the KV cache (``capture_model``), 0 with ``--enforce-eager``."""
    if enforce_eager:
        return Figure(0, "--enforce-eager: no CUDA graphs", keys=("enforce_eager",), source=SRC_WORKER)
    c = constant("vllm_cudagraph_mib")
    low, high = c.band_bytes
    return empirical(
        c.bytes,
        low,
        high,
        f"CUDA graphs for the default capture sizes (1, 2, 4, 8..256 by 8, 272..512 by 16): {c.value:g} MiB",
        keys=("enforce_eager", "max_num_seqs"),
        source=c.source,
        parts={"cuda_graphs": c.bytes},
    )


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


def kv_tokens(spec: ModelSpec, pool: int, dtype_bytes: float, tp: int) -> tuple[int, int]:
    """``(tokens, bytes per token)`` the pool holds (``get_kv_cache_config`` for one uniform group).

    # NOTE: uniform layers: ``num_blocks = pool // page_size // num_layers``, tokens =
    # ``num_blocks x block_size``. Hybrid models (sliding + full, Mamba) pack several layer types
    # per block group; they are counted here as one page per attention layer (approximate).
    """
    per_token = kv_bytes_per_token(spec, dtype_bytes, tp)
    if per_token <= 0 or pool <= 0:
        return 0, per_token
    layers = [
        layer
        for layer in spec.layers
        if layer.attention in (AttentionKind.FULL, AttentionKind.SLIDING, AttentionKind.MLA)
    ]
    page = per_token * BLOCK_SIZE // max(len(layers), 1)
    blocks = pool // max(page, 1) // max(len(layers), 1)
    return blocks * BLOCK_SIZE, per_token


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
    weights_fig = Figure(
        w.bytes,
        "; ".join(w.lines),
        keys=("tensor_parallel", "quantization"),
        source=f"{SRC_MXFP4}; {SRC_ROPE}",
        parts=dict(w.parts),
    )
    p = profile(spec, act, tp=tp, max_num_batched_tokens=mnbt, max_num_seqs=seqs)
    c = constant("vllm_sampler_bytes_per_logit")
    low_s, high_s = round(p.sampler * c.low / c.value), round(p.sampler * c.high / c.value)
    peak_low = p.moe_workspace + max(p.forward, p.hidden_kept + low_s)
    peak_high = p.moe_workspace + max(p.forward, p.hidden_kept + high_s)
    profile_fig = empirical(
        p.peak,
        peak_low,
        peak_high,
        f"profile_run: max(forward {kv.fmt_bytes(p.forward)} at {mnbt:,} tokens, kept hidden states "
        f"{kv.fmt_bytes(p.hidden_kept)} + sampler {p.num_reqs:,} requests x vocab x {c.value:g} B "
        f"{kv.fmt_bytes(p.sampler)})"
        + (f" + fused-MoE workspaces {kv.fmt_bytes(p.moe_workspace)}" if p.moe_workspace else ""),
        keys=("max_num_batched_tokens", "max_num_seqs", "vocab_size", "hidden_size", "intermediate_size"),
        source=f"{SRC_PROFILE}; {SRC_MOE_WS}; {c.source}",
        parts={
            "forward": p.forward,
            "hidden_kept": p.hidden_kept,
            "sampler": p.sampler,
            "moe_workspace": p.moe_workspace,
        },
    )
    nt = non_torch(tp)
    graphs = cuda_graphs(s.enforce_eager)
    requested = int(device_bytes * util)
    budget = Figure(
        requested,
        f"gpu_memory_utilization {util:g} x total {kv.fmt_bytes(device_bytes)}",
        keys=("gpu_memory_utilization",),
        source=SRC_WORKER,
    )
    if s.kv_cache_memory is not None:
        pool = s.kv_cache_memory
        pool_rule = (
            f"--kv-cache-memory {kv.fmt_bytes(pool)}: the KV cache is exactly this (utilization ignored)"
        )
        notes.append(
            "--kv-cache-memory skips the utilization budget: vLLM still runs the profile (to compile) but "
            "gives the KV cache exactly this many bytes, whatever the GPU has free"
        )
    else:
        pool = requested - w.bytes - p.peak - nt.bytes
        pool_rule = (
            f"requested {kv.fmt_bytes(requested)} - weights {kv.fmt_bytes(w.bytes)} - profile peak "
            f"{kv.fmt_bytes(p.peak)} - non-torch {kv.fmt_bytes(nt.bytes)}"
        )
        if cudagraph_profiling and graphs.bytes:
            pool -= graphs.bytes
            pool_rule += f" - CUDA graphs {kv.fmt_bytes(graphs.bytes)} (v0.21+ estimate)"
    dtype_b = kv_dtype_bytes(s.kv_cache_dtype, act)
    tokens, per_token = kv_tokens(spec, pool, dtype_b, tp)
    low_pool = requested - w.bytes - profile_fig.band[1] - nt.band[1]
    high_pool = requested - w.bytes - profile_fig.band[0] - nt.band[0]
    if s.kv_cache_memory is not None:
        low_pool = high_pool = pool
    kv_fig = empirical(
        max(pool, 0),
        max(low_pool, 0),
        max(high_pool, 0),
        pool_rule
        + f" = {kv.fmt_bytes(pool)}; {tokens:,} tokens of {per_token:,} B in {BLOCK_SIZE}-token pages",
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
    "ProfilePlan",
    "WeightsPlan",
    "batch_defaults",
    "cuda_graphs",
    "kv_tokens",
    "mxfp4_backend",
    "non_torch",
    "profile",
    "startup",
    "weights",
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
