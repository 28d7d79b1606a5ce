"""Unquantized dtypes (fp32, fp16, bf16) and 8-bit weights with plain scales (fp8, int8).

FP8 comes in three scale layouts: one FP32 scale per tensor (vLLM's online
``--quantization fp8``, so ``fp8`` is that layout), one per output channel
(compressed-tensors FP8_DYNAMIC) and one per 128x128 block (DeepSeek-V3,
transformers FineGrainedFP8). ``int8`` is W8A8 with per-channel FP32 scales.
The 8-bit formats quantize linear layers only; embeddings, lm_head, routers,
norms, vision towers and projectors stay 16-bit (``data/formats/dense.json``).

The small helpers here (:func:`roles_from`, :func:`ceil_div`) are shared by the
other non-GGUF format modules.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from planner.formats.base import NEVER_QUANTIZED, QuantFormat, TensorStorage, plain_storage
from planner.formats.registry import FormatOptions, format_data, register_format
from planner.model.spec import ModelSpec, Role, TensorGroup

FAMILY = "dense"
_PLAIN = ("fp32", "fp16", "bf16")
_SCALED = ("fp8-tensor", "fp8-channel", "fp8-block", "int8")


def roles_from(names: Iterable[str]) -> frozenset[Role]:
    """Role names from a facts file as :class:`Role` members."""
    return frozenset(Role(name) for name in names)


def ceil_div(a: int, b: int) -> int:
    """``ceil(a / b)`` for positive integers, exactly."""
    return -(-a // b)


def _facts() -> dict[str, Any]:
    return format_data(FAMILY)


class PlainFormat(QuantFormat):
    """Every tensor kept in one plain dtype."""

    family = FAMILY

    def __init__(self, dtype: str) -> None:
        entry = _facts()["formats"][dtype]
        self.id = dtype
        self.dtype = entry["dtype"]
        self.description = entry["description"]
        self.source = entry["source"]
        self.engines = tuple(entry["engines"])
        self.nominal_bits = float(entry["bits"])

    def storage(self, group: TensorGroup, spec: ModelSpec) -> TensorStorage:
        return plain_storage(group, self.dtype)


class ScaledFormat(QuantFormat):
    """8-bit linear weights plus FP32 scales per tensor, per output channel or per block."""

    family = FAMILY

    def __init__(self, format_id: str, layout: str | None = None) -> None:
        facts = _facts()
        entry = facts["formats"][format_id]
        layout_entry = facts["formats"][layout or format_id]
        self.id = format_id
        self.description = entry["description"]
        self.source = entry["source"]
        self.engines = tuple(layout_entry["engines"])
        self.nominal_bits = float(8 * layout_entry["weight_bytes"])
        self.weight_dtype = layout_entry["weight_dtype"]
        self.weight_bytes = layout_entry["weight_bytes"]
        self.scale = layout_entry["scale"]
        self.scale_bytes = layout_entry["scale_bytes"]
        self.block = tuple(layout_entry.get("block", ()))
        self.kept = NEVER_QUANTIZED | roles_from(facts["kept_16bit_roles"]["roles"])

    def _scale_count(self, out_features: int, in_features: int) -> int:
        if self.scale == "tensor":
            return 1
        if self.scale == "channel":
            return out_features
        rows, cols = self.block
        return ceil_div(out_features, rows) * ceil_div(in_features, cols)

    def _label(self) -> str:
        if self.scale == "block":
            return f"{self.weight_dtype} + fp32 scale per {self.block[0]}x{self.block[1]} block"
        per = "tensor" if self.scale == "tensor" else "output channel"
        return f"{self.weight_dtype} + fp32 scale per {per}"

    def storage(self, group: TensorGroup, spec: ModelSpec) -> TensorStorage:
        if group.role in self.kept or len(group.shape) != 2:
            return plain_storage(group, "bf16")
        out_features, in_features = group.shape
        per_tensor = (
            group.numel * self.weight_bytes + self._scale_count(out_features, in_features) * self.scale_bytes
        )
        return TensorStorage(group, self._label(), per_tensor * group.count, quantized=True)


@register_format(
    r"fp32|fp16|bf16|fp8|fp8-tensor|fp8-channel|fp8-block|int8",
    listed=("fp32", "fp16", "bf16", "fp8", "fp8-tensor", "fp8-channel", "fp8-block", "int8"),
)
def _dense(format_id: str, options: FormatOptions) -> QuantFormat:
    if format_id in _PLAIN:
        return PlainFormat(format_id)
    if format_id in _SCALED:
        return ScaledFormat(format_id)
    # NOTE: plain ``fp8`` is vLLM's online ``--quantization fp8``: the per-tensor layout.
    return ScaledFormat(format_id, layout=_facts()["formats"][format_id]["same_as"])
