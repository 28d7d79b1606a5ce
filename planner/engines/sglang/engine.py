"""SGLang on one GPU: what ``batch`` requests of ``context`` tokens need, and its start-up on a GPU.

The estimate holds the weights as the checkpoint stores them, the token pool those requests occupy
(``kv.py``, exact), one chunked-prefill step (``activations.py``) and the CUDA context and graphs
(``overhead.py``). What SGLang reserves at start-up and how many tokens its pool holds on a given
GPU is ``startup.py`` (``mem_fraction_static``, derived from the GPU when not given).
"""

from __future__ import annotations

from typing import Any

from planner.engines.common import ignored_settings, resolve_plain_kv, weights_figure, zero
from planner.engines.registry import register_engine
from planner.engines.server import ServerEngine
from planner.engines.sglang.activations import activations_figure
from planner.engines.sglang.kv import kv_figure
from planner.engines.sglang.overhead import overhead_figure
from planner.engines.sglang.startup import SRC_ARGS, SRC_POOL, gpu_defaults, launch_args, startup
from planner.engines.shape import model_dtype
from planner.formats.base import QuantFormat
from planner.memory import kv
from planner.memory.estimate import MemoryEstimate, RunSettings, SettingsError
from planner.memory.startup import ServerSettings, Startup
from planner.model.spec import ModelSpec

#: Format families SGLang loads from safetensors checkpoints, plus GPTQ/AWQ (GGUF, EXL2/3 and HQQ are other runtimes').
FAMILIES = frozenset({"dense", "bitsandbytes", "mxfp4"})
FORMATS_SOURCE = (
    "sgl-project/sglang docs, quantization: FP8 (online and pre-quantized), AWQ, GPTQ, bitsandbytes, MXFP4 "
    "(gpt-oss); python/sglang/srt/layers/quantization"
)


class SglangEngine(ServerEngine):
    """SGLang: a per-token KV pool sized from ``mem_fraction_static``; no profiling run."""

    id = "sglang"
    description = "SGLang (python -m sglang.launch_server), one GPU, per-token KV pool"
    source = f"{SRC_ARGS}; {SRC_POOL}"
    launch_source = "sgl-project/sglang python/sglang/srt/server_args.py (python -m sglang.launch_server)"
    kv_dtypes = ("auto", "bf16", "fp16", "fp8", "fp8_e4m3", "fp8_e5m2")

    def loads(self, fmt: QuantFormat) -> bool:
        return (fmt.family in FAMILIES and fmt.id != "int8") or fmt.id.startswith(("gptq-", "awq-"))

    def estimate(self, spec: ModelSpec, fmt: QuantFormat, settings: RunSettings) -> MemoryEstimate:
        dtype = model_dtype(fmt)
        valid = tuple(dict.fromkeys((dtype, "bf16", "fp16", "fp8", "fp8_e4m3", "fp8_e5m2")))
        k_name, v_name = resolve_plain_kv(settings, dtype, valid, self.id)
        if k_name != v_name:
            raise SettingsError(f"SGLang has one --kv-cache-dtype for K and V; got K {k_name} and V {v_name}")
        notes = ignored_settings(
            settings,
            self.id,
            (
                "ubatch",
                "gpu_layers",
                "flash_attn",
                "gpu_memory_utilization",
                "max_num_batched_tokens",
                "max_num_seqs",
                "kv_cache_memory",
                "free_gpu_memory_fraction",
            ),
        )
        report = fmt.weights(spec)
        if settings.gpu_memory_bytes:
            chunk, graph_bs = gpu_defaults(settings.gpu_memory_bytes >> 20, 1)
        else:
            chunk, graph_bs = 8192, 256
        act_bytes = 4 if dtype == "fp32" else 2
        notes.append(
            "SGLang keeps mem_fraction_static x free memory for weights and the KV pool and leaves the rest for "
            "activations and CUDA graphs; how many tokens the pool holds on a GPU is the fit check's question"
        )
        return MemoryEstimate(
            model=spec,
            format=fmt,
            engine=self.id,
            settings=settings,
            kv_dtype=k_name,
            weights_report=report,
            weights=weights_figure(report, "all on the GPU"),
            kv_cache=kv_figure(spec, kv.cache_type(k_name), settings.context, settings.batch),
            activations=activations_figure(
                spec, act_bytes, context=settings.context, batch=settings.batch, chunk=chunk
            ),
            overhead=overhead_figure(graph_bs),
            host_weights=zero("SGLang keeps the weights on the GPU"),
            host_kv_cache=zero("no host KV cache (hierarchical cache off)"),
            host_activations=zero("SGLang keeps activations on the GPU"),
            notes=tuple(notes),
        )

    def server_settings(self, settings: RunSettings, tensor_parallel: int = 1) -> ServerSettings:
        return server_settings(settings, tensor_parallel)

    def startup_rules(
        self,
        spec: ModelSpec,
        fmt: QuantFormat,
        device_bytes: int,
        server: ServerSettings,
        settings: RunSettings,
    ) -> Startup:
        return startup(spec, fmt, device_bytes, server, gpu_name=settings.gpu_name or "")

    def launch_args(
        self, model: str, server: ServerSettings, fmt_id: str
    ) -> tuple[list[str], dict[str, Any]]:
        return launch_args(model, server, fmt_id=fmt_id)


def server_settings(settings: RunSettings, tensor_parallel: int = 1) -> ServerSettings:
    """The start-up flags a plan's run settings give SGLang."""
    return ServerSettings(
        tensor_parallel=tensor_parallel,
        max_model_len=settings.context,
        kv_cache_dtype=settings.kv_dtype_k,
        mem_fraction_static=settings.mem_fraction_static,
    )


ENGINE = register_engine(SglangEngine())

__all__ = ["ENGINE", "SglangEngine", "server_settings"]
