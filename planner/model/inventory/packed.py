"""Pre-quantized checkpoints: packed tensors and their scales, back to logical weights.

A GPTQ ``q_proj`` is four stored tensors (``qweight`` I32 with eight 4-bit values per
element, ``qzeros``, ``scales``, ``g_idx``); an FP8 one is the F8 weight plus its
``weight_scale_inv``. The planner counts parameters per logical weight and keeps the
stored bytes of the whole family with it: the stored bytes *are* that checkpoint's
weight bytes. Layouts (the shape of each packed tensor) from the loaders that read them:

* GPTQ (AutoGPTQ / GPTQModel ``QuantLinear``): ``qweight`` [in * bits / 32, out] I32,
  ``qzeros`` [in / group, out * bits / 32] I32, ``scales`` [in / group, out] F16, ``g_idx`` [in] I32.
* AWQ (AutoAWQ ``WQLinear_GEMM``): ``qweight`` [in, out * bits / 32] I32, ``qzeros``
  [in / group, out * bits / 32], ``scales`` [in / group, out].
* compressed-tensors ``pack-quantized``: ``weight_packed`` [out, in * bits / 32] I32 with
  ``weight_scale``, ``weight_zero_point``, ``weight_shape``, ``weight_g_idx``.
* bitsandbytes 4-bit: ``weight`` U8 [ceil(out * in / 2), 1] with ``absmax``, ``quant_map``,
  ``nested_*`` and the ``quant_state.bitsandbytes__nf4`` blob (the logical shape is inside
  that blob, so it comes from the config's description of the same tensor); 8-bit: ``weight``
  I8 [out, in] with ``SCB``.
* FP8 (DeepSeek-V3 block scales, FBGEMM/compressed-tensors per-channel): ``weight`` F8
  [out, in] with ``weight_scale_inv`` or ``weight_scale`` (and ``input_scale``).
* NVFP4 (ModelOpt): ``weight`` U8 [out, in / 2] with ``weight_scale`` F8 [out, in / 16],
  ``weight_scale_2`` and ``input_scale``.
* MXFP4 (gpt-oss): ``*_blocks`` U8 [..., out, in / 32, 16] with ``*_scales`` U8 [..., out, in / 32].
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from planner.frozen import record
from planner.model.inventory.groups import StoredGroup

#: Companion suffix -> the suffix of the logical tensor it belongs to. Longest first.
_COMPANIONS: tuple[tuple[str, str], ...] = (
    (".weight.quant_state.bitsandbytes__nf4", ".weight"),
    (".weight.quant_state.bitsandbytes__fp4", ".weight"),
    (".weight.nested_quant_map", ".weight"),
    (".weight.nested_absmax", ".weight"),
    (".weight.quant_map", ".weight"),
    (".weight.absmax", ".weight"),
    (".weight_zero_point", ".weight"),
    (".weight_scale_inv", ".weight"),
    (".weight_global_scale", ".weight"),
    (".weight_scale_2", ".weight"),
    (".weight_scale", ".weight"),
    (".weight_shape", ".weight"),
    (".weight_g_idx", ".weight"),
    (".weight_format", ".weight"),
    (".input_global_scale", ".weight"),
    (".input_scale", ".weight"),
    (".SCB", ".weight"),
    (".qzeros", ".weight"),
    (".scales", ".weight"),
    (".g_idx", ".weight"),
    ("_scales", ""),
)
#: Main (packed) suffix -> the logical tensor's suffix.
_MAINS: tuple[tuple[str, str], ...] = (
    (".weight_packed", ".weight"),
    (".qweight", ".weight"),
    ("_blocks", ""),
)


@record
class LogicalGroup:
    """Logical tensors (what the model computes with) and the stored tensors that hold them."""

    name: str
    shape: tuple[int, ...]
    count: int
    layers: tuple[int, ...]
    stored_bytes: int | None
    stored_as: str | None


def _split(name: str, table: tuple[tuple[str, str], ...]) -> tuple[str, str] | None:
    for suffix, logical in table:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)] + logical, suffix
    return None


def _sum_bytes(groups: Iterable[StoredGroup]) -> int | None:
    total = 0
    for g in groups:
        if g.nbytes is None:
            return None
        total += g.nbytes
    return total


def _label(main: StoredGroup, suffix: str, companions: list[tuple[str, StoredGroup]]) -> str | None:
    if main.dtype is None:
        return None
    parts = [f"{main.dtype}{' ' + suffix.lstrip('._') if suffix else ''}"]
    parts += [f"{g.dtype} {s.lstrip('._').removeprefix('weight.')}" for s, g in companions]
    return " + ".join(parts)


def _logical_shape(
    main: StoredGroup,
    suffix: str,
    companions: dict[str, StoredGroup],
    bits: int | None,
    hint: tuple[int, ...] | None,
) -> tuple[int, ...]:
    shape = main.shape
    per_int32 = 32 // bits if bits else 8
    if suffix == ".qweight" and len(shape) == 2:
        rows, cols = shape
        scales, g_idx = companions.get(".scales"), companions.get(".g_idx")
        if scales is not None and scales.shape and scales.shape[-1] != cols:
            # AWQ: qweight [in, out * bits / 32]; scales [in / group, out]
            return (scales.shape[-1], rows)
        if g_idx is not None and len(g_idx.shape) == 1:
            return (cols, g_idx.shape[0])
        return (cols, rows * per_int32)
    if suffix == ".weight_packed" and len(shape) == 2:
        return (shape[0], shape[1] * per_int32)
    if suffix == "_blocks" and len(shape) >= 2:
        return (*shape[:-2], shape[-2] * shape[-1] * 2)
    if main.dtype == "U8" and ".weight_scale_2" in companions and len(shape) == 2:
        return (shape[0], shape[1] * 2)  # NVFP4: two values per byte
    if main.dtype == "U8" and any(s.startswith(".weight.") for s in companions):
        # bitsandbytes 4-bit: the header only has [ceil(numel / 2), 1]
        if hint is not None and (main.numel * 2 - _numel(hint)) in (0, 1):
            return hint
        return (main.numel * 2, 1)
    return shape


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def logical_groups(
    groups: Iterable[StoredGroup],
    *,
    bits: int | None = None,
    shape_hint: Callable[[str], tuple[int, ...] | None] = lambda name: None,
) -> tuple[LogicalGroup, ...]:
    """Logical weights from stored groups, packed data and quantization state folded in.

    ``bits`` is the checkpoint's quantization width (from its config) for GPTQ/AWQ and
    compressed-tensors packs; ``shape_hint(name)`` gives the config's shape of a tensor
    whose header hides it (bitsandbytes 4-bit). A scale without its weight stays a tensor
    of its own.
    """
    groups = list(groups)
    # candidate owners: packed mains, and plain tensors that a companion may belong to
    mains: list[tuple[str, StoredGroup, str]] = []
    pending: list[tuple[str, str, StoredGroup]] = []
    for g in groups:
        packed = _split(g.name, _MAINS)
        owner = None if packed else _split(g.name, _COMPANIONS)
        if packed is not None:
            mains.append((packed[0], g, packed[1]))
        elif owner is not None:
            pending.append((owner[0], owner[1], g))
        else:
            mains.append((g.name, g, ""))
    by_name: dict[str, list[int]] = {}
    for i, (name, _, _) in enumerate(mains):
        by_name.setdefault(name, []).append(i)
    attached: dict[int, list[tuple[str, StoredGroup]]] = {}
    orphans: list[StoredGroup] = []
    for name, suffix, g in pending:
        found = by_name.get(name, [])
        same = [i for i in found if mains[i][1].layers == g.layers]
        pick = same or (found if len(found) == 1 else [])
        if pick:
            attached.setdefault(pick[0], []).append((suffix, g))
        else:
            orphans.append(g)

    out: list[LogicalGroup] = []
    for i, (name, main, suffix) in enumerate(mains):
        parts = sorted(attached.get(i, []), key=lambda p: p[0])
        if not parts and not suffix:
            out.append(LogicalGroup(main.name, main.shape, main.count, main.layers, main.nbytes, main.dtype))
            continue
        shape = _logical_shape(main, suffix, dict(parts), bits, shape_hint(name))
        out.append(
            LogicalGroup(
                name,
                shape,
                main.count,
                main.layers,
                _sum_bytes([main, *(g for _, g in parts)]),
                _label(main, suffix, parts),
            )
        )
    out.extend(LogicalGroup(g.name, g.shape, g.count, g.layers, g.nbytes, g.dtype) for g in orphans)
    return tuple(out)
