"""Helpers every engine shares: the weights figure, exact zeros, ignored-setting notes, plain K/V types.

Engine-neutral by rule: an engine package imports from here (and from :mod:`planner.memory.kv`,
:mod:`planner.engines.constants`, :mod:`planner.engines.shape`), never from a sibling engine.
"""

from __future__ import annotations

from functools import cache

from planner.formats.base import WeightsReport
from planner.hardware.units import format_short
from planner.memo import per_object
from planner.memory import kv
from planner.memory.estimate import RunSettings, SettingsError
from planner.memory.figure import Figure

#: How each engine-specific setting is named in notes (the CLI flag and the engine that reads it).
SETTING_LABELS = {
    "ubatch": "ubatch (llama.cpp)",
    "gpu_layers": "gpu-layers (llama.cpp)",
    "gpu_memory_utilization": "gpu-memory-utilization (vLLM)",
    "max_num_batched_tokens": "max-num-batched-tokens (vLLM)",
    "flash_attn": "flash-attn",
    "max_num_seqs": "max-num-seqs (vLLM)",
    "kv_cache_memory": "kv-cache-memory (vLLM)",
    "mem_fraction_static": "mem-fraction-static (SGLang)",
    "free_gpu_memory_fraction": "free-gpu-memory-fraction (TensorRT-LLM)",
}
#: The serving engines' start-up settings: every other engine ignores them.
SERVER_SETTINGS = ("max_num_seqs", "kv_cache_memory", "mem_fraction_static", "free_gpu_memory_fraction")


@per_object()
def weights_figure(report: WeightsReport, where: str) -> Figure:
    """Exact weight bytes from the format's per-tensor storage, with bytes per role as parts."""
    parts: dict[str, int] = {}
    for t in report.tensors:
        parts[t.group.role.value] = parts.get(t.group.role.value, 0) + t.bytes
    total = report.total_bytes
    return Figure(
        total,
        f"sum of {len(report.tensors)} tensor groups stored as {report.format_id} ({where}) = {format_short(total)}",
        keys=("format",),
        source="the format's per-tensor storage (planner/formats)",
        parts=parts,
    )


@cache
def zero(rule: str) -> Figure:
    """An exact zero with its reason (one shared, immutable figure per reason)."""
    return Figure(0, rule)


def ignored_settings(settings: RunSettings, engine: str, names: tuple[str, ...]) -> list[str]:
    """Notes for settings another engine uses and this one ignores."""
    return [
        f"{SETTING_LABELS[n]} does not apply to {engine}; ignored"
        for n in names
        if getattr(settings, n) is not None
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
