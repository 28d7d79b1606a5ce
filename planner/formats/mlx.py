"""MLX quantization (mlx-lm ``convert -q``, LM Studio's MLX models): affine 2-8 bit, mxfp4, mxfp8, nvfp4.

A quantized weight ``[.., out, in]`` (Linear, Embedding, the experts' SwitchLinear) stores
``out x in x bits / 8`` bytes of codes packed in uint32, one scale per ``group`` weights along
``in`` (the model dtype in affine mode, one byte in the mx/nv modes) and, in affine mode only, one
bias per group in the model dtype. Per tensor, with ``g = in / group``:

* affine: ``out*in*bits/8 + out*g*2 + out*g*2`` (4-bit group 64: 4.5 bits per weight);
* mxfp4/mxfp8/nvfp4: ``out*in*bits/8 + out*g*1``.

A weight whose ``in`` is not a multiple of the group stays unquantized (``quantize_model``:
``weight.shape[-1] % group_size != 0``); norms, biases, sinks, SSM parameters and convolutions
stay in the model dtype; MoE routers follow each architecture's ``quant_predicate`` (8-bit affine
group 64, or a plain unquantized array for DeepSeek's MoEGate). Facts and sources:
``data/formats/mlx.json``.
"""

from __future__ import annotations

from typing import Any

from planner.formats.base import QuantFormat, TensorStorage
from planner.formats.dense import roles_from
from planner.formats.registry import FormatOptions, UnknownFormatError, format_data, register_format
from planner.model.spec import ModelSpec, Role, TensorGroup

FAMILY = "mlx"
#: Group sizes affine quantization accepts (mlx quantize modes table).
AFFINE_GROUPS = (32, 64, 128)
#: Roles routers have (a router is quantized per the architecture's quant_predicate).
ROUTER_ROLES = frozenset({Role.ROUTER, Role.SHARED_EXPERT_ROUTER})


def _facts() -> dict[str, Any]:
    return format_data(FAMILY)


def mlx_bytes(shape: tuple[int, ...], bits: int, group: int, scale_bytes: int, biases: bool) -> int:
    """Bytes of one quantized array of ``shape`` (codes + scales + biases)."""
    *lead, inner = shape
    rows = 1
    for n in lead:
        rows *= n
    groups = inner // group
    codes = rows * inner * bits // 8
    meta = rows * groups * scale_bytes * (2 if biases else 1)
    return codes + meta


class MlxFormat(QuantFormat):
    """One MLX quantization mode at a bit width and group size."""

    family = FAMILY
    engines = ("mlx",)

    def __init__(self, format_id: str, group_size: int | None = None) -> None:
        facts = _facts()
        entry = facts["formats"][format_id]
        self.entry = entry
        self.mode = entry["mode"]
        self.bits = int(entry["bits"])
        self.dtype_bytes = int(facts["kept_dtype_bytes"])
        group = entry["group_size"] if group_size is None else group_size
        if self.mode == "affine" and group not in AFFINE_GROUPS:
            raise UnknownFormatError(
                f"MLX affine quantization takes a group size of {', '.join(map(str, AFFINE_GROUPS))}, not {group}"
            )
        if self.mode != "affine" and group != entry["group_size"]:
            raise UnknownFormatError(
                f"MLX {self.mode} has a fixed group size of {entry['group_size']}, not {group}"
            )
        self.group = group
        self.scale_bytes = self.dtype_bytes if self.mode == "affine" else int(entry["scale_bytes"])
        self.biases = self.mode == "affine"
        self.id = format_id
        self.description = entry["description"]
        self.source = f"{entry['source']}; {facts['source']}"
        self.kept = roles_from(facts["kept_roles"]["roles"])
        self.router_8bit = frozenset(facts["router_8bit"]["architectures"])
        self.router_plain = frozenset(facts["router_unquantized"]["architectures"])
        self.nominal_bits = self.bits + 8 * self.scale_bytes * (2 if self.biases else 1) / self.group

    def _plain(self, group: TensorGroup, why: str) -> TensorStorage:
        return TensorStorage(group, f"bf16 ({why})", group.parameters * self.dtype_bytes, quantized=False)

    def _quantized(
        self, group: TensorGroup, bits: int, size: int, mode: str, scale: int, biases: bool
    ) -> TensorStorage:
        per = mlx_bytes(group.shape, bits, size, scale, biases)
        label = f"mlx {mode} {bits}-bit g{size} (codes + {'scales + biases' if biases else 'scales'})"
        return TensorStorage(group, label, per * group.count, quantized=True)

    def storage(self, group: TensorGroup, spec: ModelSpec) -> TensorStorage:
        if group.role in self.kept or len(group.shape) < 2:
            return self._plain(group, "not a quantized layer")
        if group.role in ROUTER_ROLES:
            if spec.architecture in self.router_plain:
                return self._plain(group, "router weight is a plain array (MoEGate)")
            if spec.architecture in self.router_8bit:
                if group.shape[-1] % 64:
                    return self._plain(group, "in-features not a multiple of 64")
                return self._quantized(group, 8, 64, "affine", self.dtype_bytes, True)
        if group.shape[-1] % self.group:
            return self._plain(group, f"in-features not a multiple of {self.group}")
        return self._quantized(group, self.bits, self.group, self.mode, self.scale_bytes, self.biases)

    def notes(self, spec: ModelSpec) -> tuple[str, ...]:
        notes = []
        if spec.architecture in self.router_8bit and any(t.role in ROUTER_ROLES for t in spec.tensors):
            notes.append(
                "MoE router quantized to 8-bit affine, group 64 (mlx-lm quant_predicate of this architecture)"
            )
        if any(t.role in (Role.VISION, Role.PROJECTOR) for t in spec.tensors):
            notes.append(
                "vision tower counted as mlx-vlm would store it; mlx-lm itself loads the language model only"
            )
        return tuple(notes)


def _group(options: FormatOptions) -> int | None:
    return None if options.group_size in (None, -1) else options.group_size


@register_format(
    r"mlx-(?:[234568]bit|mxfp4|mxfp8|nvfp4)",
    listed=(
        "mlx-2bit",
        "mlx-3bit",
        "mlx-4bit",
        "mlx-5bit",
        "mlx-6bit",
        "mlx-8bit",
        "mlx-mxfp4",
        "mlx-mxfp8",
        "mlx-nvfp4",
    ),
)
def _mlx(format_id: str, options: FormatOptions) -> QuantFormat:
    return MlxFormat(format_id, _group(options))


__all__ = ["AFFINE_GROUPS", "MlxFormat", "mlx_bytes"]
