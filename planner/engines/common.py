"""Helpers every engine shares: the weights figure, exact zeros, ignored-setting notes, plain K/V types.

Engine-neutral by rule: an engine package imports from here (and from :mod:`planner.memory.kv`,
:mod:`planner.engines.constants`, :mod:`planner.engines.shape`), never from a sibling engine.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from functools import cache

from planner.formats.base import WeightsReport
from planner.hardware.units import format_short
from planner.memo import per_object
from planner.memory import kv
from planner.memory.estimate import MemoryEstimate, RunSettings, SettingsError
from planner.memory.figure import Figure
from planner.model.spec import DENSE_LINEAR_ROLES, ModelSpec, Role

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


#: Each role's name (an enum's ``.value`` is a slow descriptor lookup, and this runs per tensor group).
_ROLE_NAMES = {role: role.value for role in Role}


@per_object()
def weights_figure(report: WeightsReport, where: str) -> Figure:
    """Exact weight bytes from the format's per-tensor storage, with bytes per role as parts."""
    parts: dict[str, int] = {}
    for t in report.tensors:
        role = _ROLE_NAMES[t.group.role]
        parts[role] = parts.get(role, 0) + t.bytes
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


# ---------------------------------------------------------------------------------------------
# launch commands
# ---------------------------------------------------------------------------------------------


def shell_command(argv: Sequence[str], *, wrap: int = 3) -> str:
    """``argv`` as one shell command, quoted; flags after the first ``wrap`` words go one pair a line."""
    words = [shlex.quote(str(a)) for a in argv]
    head, rest = words[:wrap], words[wrap:]
    lines = [" ".join(head)]
    i = 0
    while i < len(rest):
        value = i + 1 < len(rest) and (not rest[i + 1].startswith("-") or rest[i + 1] == "-")
        if rest[i].startswith("-") and value:
            lines.append(f"{rest[i]} {rest[i + 1]}")
            i += 2
        else:
            lines.append(rest[i])
            i += 1
    return " \\\n  ".join(lines)


def model_stem(name: str) -> str:
    """The last part of a model id or path (``meta-llama/Llama-3.1-8B-Instruct`` -> ``Llama-3.1-8B-Instruct``)."""
    parts = [p for p in name.replace("\\", "/").split("/") if p]
    if parts and parts[-1].endswith(".json"):
        parts = parts[:-1]
    return parts[-1] if parts else "model"


# ---------------------------------------------------------------------------------------------
# parts beyond the language model: LoRA adapters and draft models
# ---------------------------------------------------------------------------------------------

#: Linear layers a LoRA adapter targets when it targets every linear of the decoder (PEFT's
#: ``target_modules="all-linear"``): attention (MLA's projections too), dense MLP and shared experts.
LORA_ROLES = DENSE_LINEAR_ROLES
#: Slices vLLM gives a fused linear (QKVParallelLinearWithLoRA: 3; MergedColumnParallelLinearWithLoRA: 2):
#: each slice has its own lora_a of [rank, in].
FUSED_SLICES = {Role.ATTN_QKV: 3, Role.MLP_GATE_UP: 2}


def lora_elements_by_layer(spec: ModelSpec, rank: int, *, fused_slices: bool) -> dict[int, int]:
    """Elements of one rank-``rank`` adapter on every targeted linear, per decoder layer.

    Per linear ``[out, in]``: ``lora_a`` ``[rank, in]`` (one per slice of a fused projection when
    ``fused_slices``) and ``lora_b`` ``[out, rank]``. Routed experts are not targeted.
    """
    out: dict[int, int] = {}
    for g in spec.tensors:
        if g.role not in LORA_ROLES or len(g.shape) != 2 or not g.layers:
            continue
        rows, cols = g.shape
        slices = FUSED_SLICES.get(g.role, 1) if fused_slices else 1
        per_tensor = rank * (slices * cols + rows)
        per_layer = per_tensor * g.count // len(g.layers)
        for il in g.layers:
            out[il] = out.get(il, 0) + per_layer
    return out


def draft_parts(
    engine: object, spec: ModelSpec, settings: RunSettings, *, with_buffers: bool
) -> tuple[MemoryEstimate, dict[str, int], dict[str, int]]:
    """The draft model of ``settings`` run by ``engine`` for the same tokens: its estimate and GPU/host parts.

    The draft gets the plan's context and batch (its cache holds the same sequences), the engine's
    default cache type, no vision tower, LoRA or draft of its own; it shares the process (no second
    CUDA context). ``with_buffers`` adds its compute buffers (llama.cpp builds a graph for the draft
    context); engines whose profile pass already covers the draft leave them out.
    """
    from dataclasses import replace

    draft = settings.draft
    assert draft is not None
    if not engine.loads(draft.format):  # type: ignore[attr-defined]
        raise SettingsError(
            f"{engine.id} does not load the draft model's format '{draft.format.id}'; "  # type: ignore[attr-defined]
            "give --draft-format"
        )
    sub = replace(
        settings,
        kv_dtype_k="auto",
        kv_dtype_v="auto",
        draft=None,
        lora_rank=None,
        max_loras=None,
        mmproj=False,
        gpu_layers=None,
    )
    est = engine.estimate(draft.spec, draft.format, sub)  # type: ignore[attr-defined]
    gpu = {"draft_weights": est.weights.bytes, "draft_kv_cache": est.kv_cache.bytes}
    host = {"draft_weights": est.host_weights.bytes, "draft_kv_cache": est.host_kv_cache.bytes}
    if with_buffers:
        gpu["draft_compute_buffer"] = est.activations.bytes
        host["draft_compute_buffer"] = est.host_activations.bytes
    return est, gpu, {k: v for k, v in host.items() if v}


def draft_note(spec: ModelSpec, draft_spec: ModelSpec) -> str | None:
    """A warning when the draft's vocabulary differs from the target's (speculative decoding needs one)."""
    if draft_spec.vocab_size == spec.vocab_size:
        return None
    return (
        f"the draft's vocabulary ({draft_spec.vocab_size:,}) differs from the model's ({spec.vocab_size:,}): "
        "speculative decoding needs the same tokenizer (llama.cpp tolerates a small difference, vLLM none)"
    )
