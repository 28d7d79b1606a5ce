"""llama.cpp's multimodal projector (mmproj): the vision tower and projector in their own GGUF.

llama-server loads it with ``--mmproj FILE`` (``-hf`` fetches it beside the model; ``--no-mmproj``
skips it) through ``tools/mtmd`` (clip.cpp), not ``load_tensors``: it is not counted in ``-ngl`` and
goes to the GPU unless ``--no-mmproj-offload`` (``--mmproj-offload`` defaults to enabled;
tools/server/README.md at llama.cpp 00dc8057). Two parts:

* the tower's tensors as the mmproj GGUF stores them (F16 matrices, F32 vectors: the
  ``gguf`` formats mark them ``mmproj file``), exact;
* the clip compute buffer of the warm-up image: the full patch grid through one encoder layer
  (banded estimate, ``llamacpp_mmproj_compute_factor`` in data/engines.json).
"""

from __future__ import annotations

from planner.engines.constants import constant, empirical
from planner.formats.base import WeightsReport
from planner.frozen import record
from planner.hardware.units import format_short
from planner.memo import per_object
from planner.memory.estimate import Component, SettingsError
from planner.memory.figure import Figure
from planner.model.spec import ModelSpec, Role, TensorGroup

MMPROJ_ROLES = frozenset({Role.VISION, Role.PROJECTOR})
SOURCE = (
    "ggml-org/llama.cpp tools/server/README.md @00dc8057 (-mm/--mmproj, --no-mmproj, --mmproj-offload default "
    "enabled); tools/mtmd/clip.cpp warm-up graph; ollama/ollama llm/llama_server.go v0.32.15 "
    "mmprojMemoryRequirement (the projector's tensor bytes)"
)


@record
class VisionGeometry:
    """What the clip graph's size depends on, read from the tower's tensors."""

    patches: int  # tokens of the largest image: rows of the position embedding
    hidden: int
    intermediate: int
    heads: int
    heads_assumed: bool


@per_object()
def _vision_groups(spec: ModelSpec) -> tuple[TensorGroup, ...]:
    """The tower and projector groups (remembered per spec: every estimate of a model asks)."""
    return tuple(t for t in spec.tensors if t.role in MMPROJ_ROLES)


def vision_geometry(spec: ModelSpec) -> VisionGeometry | None:
    """Patches, width, MLP width and heads of ``spec``'s vision tower (``None`` without one).

    # NOTE: the tensors do not carry the head count; SigLIP-so400m (Gemma 3, PaliGemma) has
    # 1152 / 16 = 72-wide heads, most other ViTs 64-wide: heads = hidden / 72 when that divides,
    # else hidden / 64 (marked assumed in the rule).
    """
    groups = [g for g in _vision_groups(spec) if g.role is Role.VISION]
    if not groups:
        return None
    patch = next((g for g in groups if len(g.shape) == 4), None)
    hidden = patch.shape[0] if patch is not None else max(g.shape[-1] for g in groups if len(g.shape) == 2)
    pos = next((g for g in groups if "position" in g.name and len(g.shape) == 2), None)
    patches = pos.shape[0] if pos is not None else 1024
    inter = max(
        (g.shape[0] for g in groups if len(g.shape) == 2 and g.shape[1] == hidden and g.shape[0] != hidden),
        default=4 * hidden,
    )
    declared = getattr(spec, "vision_heads", None)
    if isinstance(declared, int) and declared > 0:
        return VisionGeometry(patches, hidden, inter, declared, False)
    heads = hidden // 72 if hidden % 72 == 0 else max(hidden // 64, 1)
    return VisionGeometry(patches, hidden, inter, heads, True)


def mmproj_bytes(report: WeightsReport) -> int:
    """Bytes of the tower and projector tensors as the format stores them (the mmproj file)."""
    return report.bytes_where(MMPROJ_ROLES)


def mmproj_component(
    spec: ModelSpec, report: WeightsReport, wanted: bool | None, flash: bool | None
) -> tuple[Component | None, str | None]:
    """The mmproj component (weights + clip compute buffer, on the GPU) and a note, for ``--mmproj``.

    ``wanted``: ``None`` loads it where the model has a tower (``-hf`` fetches it), ``False`` is
    ``--no-mmproj``, ``True`` requires one.
    """
    geometry = vision_geometry(spec)
    weights = mmproj_bytes(report)
    if geometry is None or not weights:
        if wanted:
            raise SettingsError(f"{spec.name} has no vision tower: there is no mmproj to load")
        return None, None
    if wanted is False:
        return None, "--no-mmproj: the vision tower is not loaded (text only)"
    g = geometry
    fa = flash is not False
    ffn = 4 * g.patches * (g.intermediate + g.hidden)
    qkv = 4 * g.patches * 4 * g.hidden
    kq = 0 if fa else 4 * g.patches * g.patches * g.heads
    base = max(ffn, qkv + kq)
    factor = constant("llamacpp_mmproj_compute_factor")
    point, low, high = factor.scale(base)
    heads = f"{g.heads} heads{' (assumed)' if g.heads_assumed else ''}"
    attention = (
        f"flash attention: Q/K/V 4*P*4*h {format_short(qkv)}"
        if fa
        else f"no flash attention: f32 KQ 4*P^2*heads {format_short(kq)} + Q/K/V {format_short(qkv)}"
    )
    rule = (
        f"mmproj file {format_short(weights)} (tower + projector tensors) + clip warm-up buffer for "
        f"{g.patches:,} patches x {g.hidden} wide, {heads}: max(MLP 4*P*(inter+h) {format_short(ffn)}, "
        f"{attention})" + (f" x {factor.value:g}" if factor.value != 1 else "")
    )
    fig = empirical(
        weights + point,
        weights + low,
        weights + high,
        rule,
        keys=("format", "flash_attn", "vision_config"),
        source=f"{SOURCE}; {factor.source}",
        parts={"mmproj_weights": weights, "clip_compute_buffer": point},
    )
    note = (
        "vision projector: llama-server loads the mmproj GGUF on the GPU (--mmproj-offload default); "
        "--no-mmproj skips it, --no-mmproj-offload keeps it in host memory"
    )
    return Component("mmproj", fig, Figure(0, "the mmproj is offloaded to the GPU (--mmproj-offload)")), note


__all__ = ["MMPROJ_ROLES", "SOURCE", "VisionGeometry", "mmproj_bytes", "mmproj_component", "vision_geometry"]
