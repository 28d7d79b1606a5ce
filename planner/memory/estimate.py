"""The memory answer for one configuration: model x format x engine x settings.

Each engine module (``planner/engines``) fills a :class:`MemoryEstimate`; this module
holds the types and the one entry point, :func:`estimate`.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from planner.errors import PlannerError
from planner.formats.base import QuantFormat, WeightsReport
from planner.frozen import record
from planner.limits import DEFAULT_CONTEXT, MAX_BATCH, MAX_CONTEXT
from planner.memory.figure import Figure
from planner.model.spec import ModelSpec
from planner.report import inventory_report

#: The parts beyond the language model an estimate may hold, each its own figure (``memory.<name>``).
EXTRA_NAMES = ("mmproj", "draft", "lora")


class SettingsError(PlannerError):
    """A run setting is out of range or unknown; the message says which and the valid values."""


@record(eq=False)
class DraftModel:
    """A speculative-decoding draft model: its spec and the format its weights are stored in.

    Compared and hashed by identity (a spec is large); ``RunSettings`` holding one stays hashable.
    """

    spec: ModelSpec
    format: QuantFormat
    ref: str  # what the user typed (a catalog id, a Hub id, a path), for the launch command


@record
class RunSettings:
    """How the model is run. ``None`` means the engine's own default."""

    context: int = DEFAULT_CONTEXT  # tokens per sequence (prompt + generated)
    batch: int = 1  # concurrent sequences
    kv_dtype_k: str = "auto"  # KV cache type of keys ("auto": the engine's default for the model)
    kv_dtype_v: str = "auto"
    flash_attn: bool | None = None  # llama.cpp -fa / transformers attention implementation
    ubatch: int | None = None  # llama.cpp physical batch (n_ubatch, default 512)
    gpu_layers: int | None = None  # llama.cpp -ngl (None: all layers on the GPU)
    gpu_memory_utilization: float | None = None  # vLLM (default 0.9)
    max_num_batched_tokens: int | None = None  # vLLM scheduler budget per step
    max_num_seqs: int | None = None  # vLLM requests per step (the profile's dummy sampler batch)
    kv_cache_memory: int | None = None  # vLLM --kv-cache-memory bytes (replaces the utilization budget)
    enforce_eager: bool = False  # vLLM --enforce-eager (no CUDA graphs)
    mem_fraction_static: float | None = None  # SGLang (default derived from the GPU's memory)
    free_gpu_memory_fraction: float | None = None  # TensorRT-LLM (default 0.9 of free memory)
    # The GPU the plan runs on, when known (vLLM picks kernels and batch defaults by it):
    gpu_name: str | None = None
    gpu_capability: str | None = None  # CUDA compute capability "major.minor"
    gpu_memory_bytes: int | None = None  # the device's total memory
    mmproj: bool | None = (
        None  # load the vision projector (llama.cpp --mmproj); None: where the model has one
    )
    draft: DraftModel | None = (
        None  # speculative decoding draft model (llama.cpp -md, vLLM speculative config)
    )
    lora_rank: int | None = None  # LoRA adapters served: rank (vLLM --max-lora-rank)
    max_loras: int | None = None  # LoRA adapters resident at once (vLLM --max-loras; llama.cpp --lora files)

    def __post_init__(self) -> None:
        if not 1 <= self.context <= MAX_CONTEXT:
            raise SettingsError(f"context must be between 1 and {MAX_CONTEXT:,} tokens, not {self.context:,}")
        if not 1 <= self.batch <= MAX_BATCH:
            raise SettingsError(f"batch must be between 1 and {MAX_BATCH:,}, not {self.batch:,}")
        if self.ubatch is not None and not 1 <= self.ubatch <= MAX_CONTEXT:
            raise SettingsError(f"ubatch must be between 1 and {MAX_CONTEXT:,}")
        if self.gpu_layers is not None and self.gpu_layers < 0:
            raise SettingsError("gpu-layers must be 0 or more")
        if self.gpu_memory_utilization is not None and not 0 < self.gpu_memory_utilization <= 1:
            raise SettingsError("gpu-memory-utilization must be in (0, 1]")
        if self.max_num_batched_tokens is not None and not 1 <= self.max_num_batched_tokens <= MAX_CONTEXT:
            raise SettingsError(f"max-num-batched-tokens must be between 1 and {MAX_CONTEXT:,}")
        if self.max_num_seqs is not None and not 1 <= self.max_num_seqs <= MAX_BATCH:
            raise SettingsError(f"max-num-seqs must be between 1 and {MAX_BATCH:,}")
        if self.kv_cache_memory is not None and self.kv_cache_memory <= 0:
            raise SettingsError("kv-cache-memory must be a positive size")
        for name in ("mem_fraction_static", "free_gpu_memory_fraction"):
            value = getattr(self, name)
            if value is not None and not 0 < value <= 1:
                raise SettingsError(f"{name.replace('_', '-')} must be in (0, 1]")
        if self.lora_rank is not None and not 1 <= self.lora_rank <= MAX_LORA_RANK:
            raise SettingsError(f"lora-rank must be between 1 and {MAX_LORA_RANK}, not {self.lora_rank:,}")
        if self.max_loras is not None and not 1 <= self.max_loras <= MAX_LORAS:
            raise SettingsError(f"max-loras must be between 1 and {MAX_LORAS}, not {self.max_loras:,}")

    @property
    def wants_lora(self) -> bool:
        """Whether LoRA adapters are asked for (a rank or a count given)."""
        return self.lora_rank is not None or self.max_loras is not None


#: Bounds of the LoRA settings (vLLM accepts ranks up to 512: vllm/config/lora.py MaxLoRARanks).
MAX_LORA_RANK = 1024
MAX_LORAS = 256


@record
class Component:
    """A part beyond the language model (the mmproj, a draft model, LoRA adapters): GPU and host bytes."""

    name: str  # one of EXTRA_NAMES
    gpu: Figure
    host: Figure = field(default_factory=lambda: Figure(0, "nothing in host memory"))


@record
class MemoryEstimate:
    """Bytes per component, on the GPU(s) and on the host, each with its derivation.

    GPU figures are summed over GPUs. ``kv_dtype`` is the resolved cache type label
    (``"fp16"``, or ``"q8_0/q4_0"`` when K and V differ).
    """

    model: ModelSpec
    format: QuantFormat
    engine: str
    settings: RunSettings
    kv_dtype: str
    weights_report: WeightsReport
    weights: Figure
    kv_cache: Figure
    activations: Figure
    overhead: Figure
    host_weights: Figure
    host_kv_cache: Figure
    host_activations: Figure
    notes: tuple[str, ...] = field(default=())
    extras: tuple[Component, ...] = field(default=())

    def extra(self, name: str) -> Component | None:
        """The component ``name`` (``mmproj``, ``draft``, ``lora``), or ``None`` when the plan has none."""
        return next((c for c in self.extras if c.name == name), None)

    @property
    def extras_bytes(self) -> int:
        """GPU bytes of the parts beyond the language model."""
        return sum(c.gpu.bytes for c in self.extras)

    @property
    def total(self) -> int:
        """GPU bytes: weights + KV cache + activations + overhead (+ mmproj, draft model, LoRA adapters)."""
        return (
            self.weights.bytes
            + self.kv_cache.bytes
            + self.activations.bytes
            + self.overhead.bytes
            + self.extras_bytes
        )

    @property
    def total_band(self) -> tuple[int, int]:
        """Low and high GPU totals from each component's uncertainty band."""
        parts = (self.weights, self.kv_cache, self.activations, self.overhead, *(c.gpu for c in self.extras))
        return sum(p.band[0] for p in parts), sum(p.band[1] for p in parts)

    @property
    def host_total(self) -> int:
        """Host (CPU RAM) bytes the engine keeps for this model."""
        return (
            self.host_weights.bytes
            + self.host_kv_cache.bytes
            + self.host_activations.bytes
            + sum(c.host.bytes for c in self.extras)
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``estimate`` JSON contract (integer bytes); extra keys may be added, never renamed."""
        low, high = self.total_band
        return {
            "model": self.model.name,
            "format": self.format.id,
            "engine": self.engine,
            "context": self.settings.context,
            "batch": self.settings.batch,
            "kv_dtype": self.kv_dtype,
            "parameters": {"total": self.model.total_parameters, "active": self.model.active_parameters},
            "memory": {
                "weights": self.weights.bytes,
                "kv_cache": self.kv_cache.bytes,
                "activations": self.activations.bytes,
                "overhead": self.overhead.bytes,
                **{name: self._extra_bytes(name, host=False) for name in EXTRA_NAMES},
                "total": self.total,
                "total_low": low,
                "total_high": high,
            },
            "host_memory": {
                "weights": self.host_weights.bytes,
                "kv_cache": self.host_kv_cache.bytes,
                "activations": self.host_activations.bytes,
                **{name: self._extra_bytes(name, host=True) for name in EXTRA_NAMES},
                "total": self.host_total,
            },
            "bits_per_weight": round(self.weights_report.bits_per_weight, 4),
            "explain": {
                "inventory": inventory_report(self.model),
                "weights": self.weights.as_dict(),
                "kv_cache": self.kv_cache.as_dict(),
                "activations": self.activations.as_dict(),
                "overhead": self.overhead.as_dict(),
                "host_weights": self.host_weights.as_dict(),
                "host_kv_cache": self.host_kv_cache.as_dict(),
                "host_activations": self.host_activations.as_dict(),
                **{name: self._extra_figure(name, host=False).as_dict() for name in EXTRA_NAMES},
                **{f"host_{name}": self._extra_figure(name, host=True).as_dict() for name in EXTRA_NAMES},
            },
            "notes": list(self.notes) + list(self.weights_report.notes),
        }

    def _extra_figure(self, name: str, *, host: bool) -> Figure:
        c = self.extra(name)
        if c is None:
            return Figure(0, f"no {EXTRA_LABELS[name]} in this plan")
        return c.host if host else c.gpu

    def _extra_bytes(self, name: str, *, host: bool) -> int:
        return self._extra_figure(name, host=host).bytes


#: How each extra component is named in text.
EXTRA_LABELS = {
    "mmproj": "vision projector (mmproj)",
    "draft": "speculative-decoding draft model",
    "lora": "LoRA adapters",
}
