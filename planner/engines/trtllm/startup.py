"""TensorRT-LLM (PyTorch backend, ``trtllm-serve``) at start-up, re-derived from its source.

``KvCacheCreator`` (tensorrt_llm/_torch/pyexecutor/_util.py) loads the weights, builds a small
temporary KV cache and runs dummy context requests of up to ``max_seq_len`` tokens each,
``max_num_tokens`` in all (the dry run; ``_create_dummy_context_requests``), reads the peak
(torch peak + everything outside torch on the device) and gives the KV cache
``available_kv_mem = (total_gpu_memory - peak_memory + allocated_bytes) x fraction``
(``_cal_max_memory``; ``allocated_bytes`` is the temporary cache, added back). The fraction is
``KvCacheConfig.free_gpu_memory_fraction`` (0.9; ``trtllm-serve --kv_cache_free_gpu_memory_fraction``): a fraction of the memory *free after the dry run*,
not of the total as vLLM's and SGLang's. The pool is cut into ``tokens_per_block`` (32) token blocks
of ``get_cache_size_per_token`` bytes (KV heads per rank x head dim x 2 x layers x dtype).
"""

from __future__ import annotations

from planner.engines.constants import constant, empirical
from planner.engines.forward import forward
from planner.engines.shape import model_dtype, model_shape
from planner.engines.tensor_parallel import kv_bytes_per_token, rank_shares
from planner.formats.base import QuantFormat
from planner.hardware.units import format_short
from planner.memory.figure import Figure
from planner.memory.startup import ServerSettings, Startup
from planner.model.spec import ModelSpec

VERSION = "1.x PyTorch backend (_util.py KvCacheCreator._cal_max_memory)"
SRC = (
    "NVIDIA/TensorRT-LLM tensorrt_llm/_torch/pyexecutor/_util.py KvCacheCreator (configure_kv_cache_capacity, "
    "_cal_max_memory: available_kv_mem = (total_gpu_memory - peak_memory + allocated_bytes) * fraction)"
)
SRC_DEFAULTS = (
    "NVIDIA/TensorRT-LLM tensorrt_llm/llmapi/llm_args.py: KvCacheConfig.free_gpu_memory_fraction 0.9, "
    "tokens_per_block 32; max_num_tokens 8192, max_batch_size 2048"
)
FREE_FRACTION = 0.9
MAX_NUM_TOKENS = 8192
MAX_BATCH_SIZE = 2048
TOKENS_PER_BLOCK = 32


def startup(
    spec: ModelSpec, fmt: QuantFormat, device_bytes: int, settings: ServerSettings | None = None
) -> Startup:
    """One rank of TensorRT-LLM on a GPU of ``device_bytes`` total memory."""
    s = settings or ServerSettings()
    tp = s.tensor_parallel
    fraction = s.free_gpu_memory_fraction or FREE_FRACTION
    tokens = s.max_num_tokens or MAX_NUM_TOKENS
    batch = s.max_batch_size or MAX_BATCH_SIZE
    act = 4 if model_dtype(fmt) == "fp32" else 2
    w = sum(x.bytes for x in rank_shares(fmt.weights(spec), spec, tp))
    f = forward(spec, act, tp=tp, tokens=tokens)
    seq = min(s.max_model_len or spec.max_position_embeddings or tokens, tokens)
    reqs = min(batch, -(-tokens // max(seq, 1)))
    logits = reqs * model_shape(spec).vocab * 4
    factor = constant("trtllm_activation_factor")
    structural = f.peak + logits
    point, low, high = factor.scale(structural)
    profile = empirical(
        point,
        low,
        high,
        f"dry run of {tokens:,} tokens in {reqs:,} dummy context request(s) of up to {seq:,} tokens: forward "
        f"{format_short(f.peak)} + float32 logits of {reqs:,} request(s) "
        f"{format_short(logits)}" + (f" x {factor.value:g}" if factor.value != 1 else ""),
        keys=("max_num_tokens", "max_batch_size"),
        source=f"{SRC}; {factor.source}",
        parts={"forward": f.peak, "logits": logits},
    )
    ctx = constant("cuda_context_mib")
    nt_c = constant("trtllm_non_torch_tp_mib") if tp > 1 else None
    nt_bytes = ctx.bytes + (nt_c.bytes if nt_c else 0)
    non_torch = empirical(
        nt_bytes,
        ctx.band_bytes[0] + (nt_c.band_bytes[0] if nt_c else 0),
        ctx.band_bytes[1] + (nt_c.band_bytes[1] if nt_c else 0),
        "CUDA context" + (" + NCCL buffers" if nt_c else "") + " (the device's used memory outside torch)",
        keys=("tensor_parallel",),
        source=ctx.source + (f"; {nt_c.source}" if nt_c else ""),
        parts={"cuda_context": ctx.bytes, "nccl": nt_c.bytes if nt_c else 0},
    )
    peak = w + profile.bytes + nt_bytes
    free_after = device_bytes - peak
    pool = int(free_after * fraction)
    low_pool = int((device_bytes - w - profile.band[1] - non_torch.band[1]) * fraction)
    high_pool = int((device_bytes - w - profile.band[0] - non_torch.band[0]) * fraction)
    dtype_b = 1 if s.kv_cache_dtype.lower().startswith("fp8") else act
    per_token = kv_bytes_per_token(spec, dtype_b, tp)
    blocks = pool // (per_token * TOKENS_PER_BLOCK) if pool > 0 and per_token else 0
    budget = Figure(
        pool,
        f"free_gpu_memory_fraction {fraction:g} x (total {format_short(device_bytes)} - dry-run peak "
        f"{format_short(peak)}): a fraction of free memory, not of the total",
        keys=("free_gpu_memory_fraction",),
        source=f"{SRC}; {SRC_DEFAULTS}",
    )
    kv_fig = empirical(
        max(pool, 0),
        max(low_pool, 0),
        max(high_pool, 0),
        f"{fraction:g} x {format_short(free_after)} free after the dry run = {format_short(pool)}; {blocks:,} blocks "
        f"of {TOKENS_PER_BLOCK} tokens x {per_token:,} B",
        keys=("free_gpu_memory_fraction", "kv_cache_dtype"),
        source=SRC,
        parts={"kv_pool": max(pool, 0)},
    )
    outside = Figure(
        free_after - pool if free_after > 0 else 0,
        f"(1 - {fraction:g}) of the memory free after the dry run stays free for runtime buffers",
        keys=("free_gpu_memory_fraction",),
        source=SRC,
        exact=False,
    )
    notes = []
    if pool <= 0:
        notes.append("TensorRT-LLM would fail to size a KV cache: the dry run leaves no free memory")
    return Startup(
        engine="trtllm",
        version=VERSION,
        tensor_parallel=tp,
        device_bytes=device_bytes,
        budget=budget,
        weights=Figure(w, f"checkpoint share on 1 of {tp} rank(s)", keys=("tensor_parallel",), source=SRC),
        profile_peak=profile,
        non_torch=non_torch,
        cuda_graphs=Figure(0, "captured during warm-up, inside the dry-run peak", source=SRC),
        kv_pool_bytes=pool,
        kv_pool=kv_fig,
        kv_bytes_per_token=per_token,
        kv_tokens=blocks * TOKENS_PER_BLOCK,
        outside_budget=outside,
        settings={
            "free_gpu_memory_fraction": fraction,
            "max_num_tokens": tokens,
            "max_batch_size": batch,
            "tensor_parallel": tp,
            "defaults_source": SRC_DEFAULTS,
        },
        notes=tuple(notes),
    )


__all__ = ["FREE_FRACTION", "VERSION", "startup"]


def launch_args(
    model: str, settings: ServerSettings, *, fmt_id: str = "bf16"
) -> tuple[list[str], dict[str, str]]:
    """``trtllm-serve`` arguments that enforce this plan's flags (options of trtllm-serve's CLI reference)."""
    s = settings
    args = ["trtllm-serve", model, "--backend", "pytorch"]
    if s.max_model_len:
        args += ["--max_seq_len", str(s.max_model_len)]
    if s.tensor_parallel > 1:
        args += ["--tp_size", str(s.tensor_parallel)]
    fraction = s.free_gpu_memory_fraction or FREE_FRACTION
    args += ["--kv_cache_free_gpu_memory_fraction", f"{fraction:g}"]
    if s.max_num_tokens:
        args += ["--max_num_tokens", str(s.max_num_tokens)]
    if s.max_batch_size:
        args += ["--max_batch_size", str(s.max_batch_size)]
    return args, {}
