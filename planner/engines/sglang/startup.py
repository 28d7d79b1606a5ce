"""SGLang at start-up (``python -m sglang.launch_server``), re-derived from its source (v0.5 series).

``ServerArgs._handle_gpu_memory_settings`` (python/sglang/srt/server_args.py) picks
``chunked_prefill_size`` and ``cuda_graph_max_bs`` by GPU memory tier and, when
``--mem-fraction-static`` is not given, derives it from a reserve in MiB:
``reserved = 512 + max(chunked_prefill_size, 2048) x 1.5 + cuda_graph_max_bs x 2 + tp x pp / 8 x 1024``
(at least 10 GiB on GPUs over 60 GiB), ``mem_fraction_static = round((gpu_mem - reserved) / gpu_mem, 3)``.
The KV pool is then what is free after loading the weights less ``(1 - mem_fraction_static) x`` what
was free after the CUDA context and ``torch.distributed`` came up (``profile_available_bytes`` in
python/sglang/srt/model_executor/pool_configurator.py; ``ModelRunner.profile_max_num_token`` in
older releases): ``rest = available_after_load - total_gpu_memory x (1 - mem_fraction_static)``,
``max_total_num_tokens = rest // cell_size``, ``cell_size = kv_heads/tp x head_dim x layers x 2 x
dtype`` (MLA: ``(kv_lora_rank + qk_rope_head_dim) x layers x dtype``). SGLang runs no profile:
activations and CUDA graphs must fit in the reserved share.
"""

from __future__ import annotations

from planner.engines.constants import constant, empirical
from planner.engines.shape import model_dtype
from planner.engines.tensor_parallel import kv_bytes_per_token, rank_shares
from planner.formats.base import QuantFormat
from planner.hardware.units import format_short
from planner.memory.figure import Figure
from planner.memory.startup import ServerSettings, Startup
from planner.model.spec import ModelSpec

VERSION = "0.5 series (server_args.py with piecewise CUDA graph and NSA settings)"
MIB = 1 << 20
GIB = 1 << 30
SRC_ARGS = "sgl-project/sglang python/sglang/srt/server_args.py ServerArgs._handle_gpu_memory_settings"
SRC_POOL = (
    "sgl-project/sglang python/sglang/srt/model_executor/pool_configurator.py profile_available_bytes "
    "(rest_memory = available_gpu_memory - total_gpu_memory * (1 - mem_fraction_static)); "
    "model_runner.py profile_max_num_token (cell_size)"
)

#: (upper bound in MiB, chunked_prefill_size, cuda_graph_max_bs for tp < 4, for tp >= 4), in order.
_TIERS = (
    (20 * 1024, 2048, 8, 8),  # T4, 4080
    (35 * 1024, 2048, 24, 80),  # A10, 4090, 5090
    (60 * 1024, 4096, 32, 160),  # A100 40GB, L40
    (90 * 1024, 8192, 256, 512),  # H100, A100 80GB
    (160 * 1024, 8192, 256, 512),  # H20, H200
)


def gpu_defaults(gpu_mem_mib: int, tp: int) -> tuple[int, int]:
    """``(chunked_prefill_size, cuda_graph_max_bs)`` for a GPU of ``gpu_mem_mib`` MiB."""
    for bound, chunk, small, large in _TIERS:
        if gpu_mem_mib < bound:
            return chunk, small if tp < 4 else large
    return 16384, 512  # B200, MI300


def mem_fraction_static(
    gpu_mem_mib: int,
    tp: int,
    *,
    chunked_prefill_size: int | None = None,
    cuda_graph_max_bs: int | None = None,
) -> tuple[float, float, str]:
    """``(mem_fraction_static, reserved MiB, rule)`` SGLang derives when the flag is not given."""
    d_chunk, d_bs = gpu_defaults(gpu_mem_mib, tp)
    chunk = chunked_prefill_size or d_chunk
    bs = cuda_graph_max_bs or d_bs
    reserved = 512 + max(chunk, 2048) * 1.5 + bs * 2 + tp / 8 * 1024
    rule = f"reserve 512 + max({chunk}, 2048) x 1.5 + {bs} x 2 + {tp}/8 x 1024 = {reserved:g} MiB"
    if gpu_mem_mib > 60 * 1024 and reserved < 10 * 1024:
        reserved = 10 * 1024
        rule += ", raised to the 10 GiB floor of GPUs over 60 GiB"
    fraction = round((gpu_mem_mib - reserved) / gpu_mem_mib, 3)
    return fraction, reserved, rule + f"; mem_fraction_static = ({gpu_mem_mib:,} - reserve) / {gpu_mem_mib:,}"


def startup(
    spec: ModelSpec,
    fmt: QuantFormat,
    device_bytes: int,
    settings: ServerSettings | None = None,
    *,
    gpu_name: str = "",
) -> Startup:
    """One rank of SGLang on a GPU of ``device_bytes`` total memory."""
    s = settings or ServerSettings()
    tp = s.tensor_parallel
    gpu_mem_mib = device_bytes // MIB
    notes: list[str] = []
    if s.mem_fraction_static is not None:
        fraction, reserved_mib = s.mem_fraction_static, (1 - s.mem_fraction_static) * gpu_mem_mib
        fraction_rule = f"--mem-fraction-static {fraction:g}"
    else:
        fraction, reserved_mib, fraction_rule = mem_fraction_static(
            gpu_mem_mib,
            tp,
            chunked_prefill_size=s.chunked_prefill_size,
            cuda_graph_max_bs=s.cuda_graph_max_bs,
        )
    init = constant("sglang_init_tp_mib") if tp > 1 else constant("cuda_context_mib")
    free_init = device_bytes - init.bytes
    w = sum(x.bytes for x in rank_shares(fmt.weights(spec), spec, tp))
    act = 4 if model_dtype(fmt) == "fp32" else 2
    pool = int(fraction * free_init) - w
    dtype_b = 1 if s.kv_cache_dtype.lower().startswith("fp8") else act
    per_token = kv_bytes_per_token(spec, dtype_b, tp)
    tokens = pool // per_token if pool > 0 and per_token else 0
    budget = Figure(
        int(fraction * free_init),
        f"{fraction_rule}; x free memory after init {format_short(free_init)} (total - "
        f"{'CUDA context + torch.distributed' if tp > 1 else 'CUDA context'} {init.value:g} MiB)",
        keys=("mem_fraction_static", "tensor_parallel"),
        source=f"{SRC_ARGS}; {SRC_POOL}",
    )
    weights_fig = Figure(
        w, f"checkpoint share on 1 of {tp} rank(s)", keys=("tensor_parallel",), source=SRC_POOL
    )
    low = int(fraction * (device_bytes - init.band_bytes[1])) - w
    high = int(fraction * (device_bytes - init.band_bytes[0])) - w
    kv_fig = empirical(
        max(pool, 0),
        max(low, 0),
        max(high, 0),
        f"{fraction:g} x {format_short(free_init)} - weights {format_short(w)} = {format_short(pool)}; "
        f"{tokens:,} tokens of {per_token:,} B (cell_size)",
        keys=("mem_fraction_static", "kv_cache_dtype"),
        source=f"{SRC_POOL}; {init.source}",
        parts={"kv_pool": max(pool, 0)},
    )
    reserve = int(reserved_mib * MIB)
    graphs_mib = (s.cuda_graph_max_bs or gpu_defaults(gpu_mem_mib, tp)[1]) * 2
    graphs = Figure(
        graphs_mib * MIB,
        f"SGLang's own estimate: cuda_graph_max_bs x 2 MiB = {graphs_mib} MiB",
        keys=("cuda_graph_max_bs",),
        source=SRC_ARGS,
        exact=False,
    )
    outside = Figure(
        int((1 - fraction) * free_init) + init.bytes,
        f"the (1 - {fraction:g}) share of free memory ({format_short(int((1 - fraction) * free_init))}), where "
        "activations, CUDA graphs and sampling buffers live, plus the CUDA context",
        keys=("mem_fraction_static",),
        source=SRC_ARGS,
        exact=False,
    )
    zero = Figure(0, "SGLang runs no profile: activations live in the reserved share", source=SRC_ARGS)
    if pool <= 0:
        notes.append(
            "SGLang would refuse to start ('Not enough memory. Please try to increase --mem-fraction-static'): "
            "the weights take more than mem_fraction_static of the free memory"
        )
    notes.append(
        f"SGLang reserves {reserve / GIB:.2f} GiB per GPU for activations and CUDA graphs "
        f"(chunked prefill {s.chunked_prefill_size or gpu_defaults(gpu_mem_mib, tp)[0]} tokens)"
    )
    return Startup(
        engine="sglang",
        version=VERSION,
        tensor_parallel=tp,
        device_bytes=device_bytes,
        budget=budget,
        weights=weights_fig,
        profile_peak=zero,
        non_torch=Figure(
            init.bytes,
            "CUDA context (+ NCCL with tensor parallelism) before the snapshot",
            exact=False,
            source=init.source,
        ),
        cuda_graphs=graphs,
        kv_pool_bytes=pool,
        kv_pool=kv_fig,
        kv_bytes_per_token=per_token,
        kv_tokens=tokens,
        outside_budget=outside,
        settings={"mem_fraction_static": fraction, "tensor_parallel": tp, "reserved_mib": reserved_mib},
        notes=tuple(notes),
    )


__all__ = ["VERSION", "gpu_defaults", "mem_fraction_static", "startup"]


def launch_args(
    model: str, settings: ServerSettings, *, fmt_id: str = "bf16"
) -> tuple[list[str], dict[str, str]]:
    """``python -m sglang.launch_server`` arguments that enforce this plan's flags."""
    s = settings
    args = ["python", "-m", "sglang.launch_server", "--model-path", model]
    if s.max_model_len:
        args += ["--context-length", str(s.max_model_len)]
    if s.mem_fraction_static:
        args += ["--mem-fraction-static", f"{s.mem_fraction_static:g}"]
    if s.tensor_parallel > 1:
        args += ["--tp", str(s.tensor_parallel)]
    if s.kv_cache_dtype.lower().startswith("fp8"):
        args += ["--kv-cache-dtype", "fp8_e4m3"]
    if s.chunked_prefill_size:
        args += ["--chunked-prefill-size", str(s.chunked_prefill_size)]
    if s.cuda_graph_max_bs:
        args += ["--cuda-graph-max-bs", str(s.cuda_graph_max_bs)]
    if fmt_id == "fp8":
        args += ["--quantization", "fp8"]
    return args, {}
