"""What a serving engine decides at start-up on one GPU: its budget, the profile it runs, its KV pool.

vLLM, SGLang and TensorRT-LLM do not size the KV cache from the request; they measure what the
weights and a profiling run take and give the rest of a budget to a pool of KV blocks. The
budgets differ (vLLM: ``gpu_memory_utilization x total``; SGLang: what is free after loading less
``(1 - mem_fraction_static) x`` what was free before; TensorRT-LLM: ``free_gpu_memory_fraction x``
what the dry run leaves free), so each engine fills one :class:`Startup` per tensor-parallel rank
and the fit check, the CLI and the public-log replay read the same figures.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from planner.frozen import record
from planner.memory.estimate import SettingsError
from planner.memory.figure import Figure

#: Bounds that refuse absurd settings with a clear message.
MAX_TENSOR_PARALLEL = 64
MAX_TOKENS_SETTING = 1 << 24


@record
class ServerSettings:
    """Start-up flags of the serving engines (``None``: the engine's default for the GPU).

    vLLM: ``gpu_memory_utilization``, ``max_num_batched_tokens``, ``max_num_seqs``,
    ``kv_cache_memory`` (bytes; skips the utilization budget), ``enforce_eager``.
    SGLang: ``mem_fraction_static``, ``chunked_prefill_size``, ``cuda_graph_max_bs``.
    TensorRT-LLM: ``free_gpu_memory_fraction``, ``max_num_tokens``, ``max_batch_size``.
    All: ``tensor_parallel`` and ``max_model_len`` (tokens per request).
    """

    tensor_parallel: int = 1
    max_model_len: int | None = None
    kv_cache_dtype: str = "auto"
    gpu_memory_utilization: float | None = None
    max_num_batched_tokens: int | None = None
    max_num_seqs: int | None = None
    kv_cache_memory: int | None = None
    enforce_eager: bool = False
    mem_fraction_static: float | None = None
    chunked_prefill_size: int | None = None
    cuda_graph_max_bs: int | None = None
    free_gpu_memory_fraction: float | None = None
    max_num_tokens: int | None = None
    max_batch_size: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.tensor_parallel <= MAX_TENSOR_PARALLEL:
            raise SettingsError(
                f"tensor_parallel must be 1..{MAX_TENSOR_PARALLEL} GPUs, got {self.tensor_parallel}"
            )
        for name in ("gpu_memory_utilization", "mem_fraction_static", "free_gpu_memory_fraction"):
            value = getattr(self, name)
            if value is not None and not 0 < value <= 1:
                raise SettingsError(f"{name} must be in (0, 1], got {value:g}")
        for name in (
            "max_model_len",
            "max_num_batched_tokens",
            "max_num_seqs",
            "chunked_prefill_size",
            "cuda_graph_max_bs",
            "max_num_tokens",
            "max_batch_size",
        ):
            value = getattr(self, name)
            if value is not None and not 1 <= value <= MAX_TOKENS_SETTING:
                raise SettingsError(f"{name} must be 1..{MAX_TOKENS_SETTING:,}, got {value}")
        if self.kv_cache_memory is not None and self.kv_cache_memory <= 0:
            raise SettingsError(
                f"kv_cache_memory must be a positive number of bytes, got {self.kv_cache_memory}"
            )


@record
class Startup:
    """One rank's start-up: the figures the engine logs, each with its rule and source.

    ``budget`` is what the engine lets itself use for weights, profile peak, non-torch memory and
    KV; ``kv_pool`` what is left for KV blocks (negative: the engine refuses to start);
    ``outside_budget`` what the process holds beyond ``budget`` (CUDA context; vLLM < 0.21 CUDA
    graphs), which must fit in the rest of the device. ``kv_tokens`` is the pool's capacity.
    """

    engine: str
    version: str
    tensor_parallel: int
    device_bytes: int
    budget: Figure
    weights: Figure
    profile_peak: Figure
    non_torch: Figure
    cuda_graphs: Figure
    kv_pool_bytes: int
    kv_pool: Figure
    kv_bytes_per_token: int
    kv_tokens: int
    outside_budget: Figure
    settings: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def starts(self) -> bool:
        """Whether the KV pool is positive (every engine refuses to start with no KV memory)."""
        return self.kv_pool_bytes > 0

    def fits_request(self, tokens: int) -> bool:
        """Whether one request of ``tokens`` tokens fits the pool (vLLM's start-up check)."""
        return self.kv_tokens >= tokens

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (integer bytes)."""
        return {
            "engine": self.engine,
            "version": self.version,
            "tensor_parallel": self.tensor_parallel,
            "device_bytes": self.device_bytes,
            "budget": self.budget.as_dict(),
            "weights": self.weights.as_dict(),
            "profile_peak": self.profile_peak.as_dict(),
            "non_torch": self.non_torch.as_dict(),
            "cuda_graphs": self.cuda_graphs.as_dict(),
            "kv_pool_bytes": self.kv_pool_bytes,
            "kv_pool": self.kv_pool.as_dict(),
            "kv_bytes_per_token": self.kv_bytes_per_token,
            "kv_tokens": self.kv_tokens,
            "outside_budget": self.outside_budget.as_dict(),
            "settings": dict(self.settings),
            "notes": list(self.notes),
        }


__all__ = ["ServerSettings", "Startup"]
