"""TensorRT-LLM (PyTorch backend) on one GPU: what ``batch`` requests of ``context`` tokens need.

The estimate holds the checkpoint's weights, the 32-token KV blocks those requests occupy (``kv.py``,
exact), the dry run's activation peak (``activations.py``, structural, not yet calibrated) and the
CUDA context (``overhead.py``). What TensorRT-LLM reserves at start-up on a GPU is ``startup.py``:
``free_gpu_memory_fraction`` of the memory its dry run leaves free.
"""

from __future__ import annotations

from typing import Any

from planner.engines.common import ignored_settings, resolve_plain_kv, weights_figure, zero
from planner.engines.registry import register_engine
from planner.engines.server import ServerEngine
from planner.engines.shape import model_dtype
from planner.engines.trtllm.activations import activations_figure
from planner.engines.trtllm.kv import kv_figure
from planner.engines.trtllm.overhead import overhead_figure
from planner.engines.trtllm.startup import FREE_FRACTION, SRC, launch_args, startup
from planner.formats.base import QuantFormat
from planner.memory import kv
from planner.memory.estimate import MemoryEstimate, RunSettings, SettingsError
from planner.memory.startup import ServerSettings, Startup
from planner.model.spec import ModelSpec

#: Checkpoints the PyTorch backend loads (16-bit, FP8 ModelOpt/compressed-tensors, W4A16 AWQ/GPTQ, MXFP4).
FORMATS = ("fp16", "bf16", "fp8", "fp8-tensor", "fp8-channel", "fp8-block", "awq-int4", "gptq-int4", "mxfp4")
FORMATS_SOURCE = (
    "NVIDIA/TensorRT-LLM docs, PyTorch backend quantization: FP8 per tensor/channel/block, W4A16 AWQ/GPTQ, "
    "MXFP4 (gpt-oss), NVFP4"
)


class TrtllmEngine(ServerEngine):
    """TensorRT-LLM (PyTorch backend): a dry run, then a fraction of the free memory for KV blocks."""

    id = "trtllm"
    description = "TensorRT-LLM (trtllm-serve, PyTorch backend), one GPU, paged KV cache in 32-token blocks"
    source = SRC
    launch_source = "NVIDIA/TensorRT-LLM trtllm-serve CLI reference"
    kv_dtypes = ("auto", "bf16", "fp16", "fp8")

    def loads(self, fmt: QuantFormat) -> bool:
        return fmt.id in FORMATS

    def estimate(self, spec: ModelSpec, fmt: QuantFormat, settings: RunSettings) -> MemoryEstimate:
        dtype = model_dtype(fmt)
        valid = tuple(dict.fromkeys((dtype, "bf16", "fp16", "fp8")))
        k_name, v_name = resolve_plain_kv(settings, dtype, valid, self.id)
        if k_name != v_name:
            raise SettingsError(
                f"TensorRT-LLM has one KV cache dtype for K and V; got K {k_name} and V {v_name}"
            )
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
                "mem_fraction_static",
            ),
        )
        report = fmt.weights(spec)
        act_bytes = 4 if dtype == "fp32" else 2
        fraction = settings.free_gpu_memory_fraction or FREE_FRACTION
        notes.append(
            f"TensorRT-LLM gives the KV cache free_gpu_memory_fraction ({fraction:g}) of the memory its dry run leaves "
            "free (not of the total); how many tokens that holds on a GPU is the fit check's question"
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
            activations=activations_figure(spec, act_bytes, context=settings.context),
            overhead=overhead_figure(),
            host_weights=zero("TensorRT-LLM keeps the weights on the GPU"),
            host_kv_cache=zero("no host KV cache (host_cache_size 0 by default)"),
            host_activations=zero("TensorRT-LLM keeps activations on the GPU"),
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
        return startup(spec, fmt, device_bytes, server)

    def launch_args(
        self, model: str, server: ServerSettings, fmt_id: str
    ) -> tuple[list[str], dict[str, Any]]:
        return launch_args(model, server, fmt_id=fmt_id)


def server_settings(settings: RunSettings, tensor_parallel: int = 1) -> ServerSettings:
    """The start-up flags a plan's run settings give TensorRT-LLM."""
    return ServerSettings(
        tensor_parallel=tensor_parallel,
        max_model_len=settings.context,
        kv_cache_dtype=settings.kv_dtype_k,
        free_gpu_memory_fraction=settings.free_gpu_memory_fraction,
    )


ENGINE = register_engine(TrtllmEngine())

__all__ = ["ENGINE", "TrtllmEngine", "server_settings"]
