"""MXFP4 as gpt-oss stores it: routed experts in MXFP4, everything else BF16.

Each expert weight ``[out, in]`` is cut into blocks of 32 along ``in``; a block is
16 bytes of FP4 (E2M1) codes, two per byte, plus one uint8 E8M0 scale:
17 bytes per 32 weights, 4.25 bits per weight (``data/formats/mxfp4.json``).
"""

from __future__ import annotations

from typing import Any

from planner.formats.base import QuantFormat, TensorStorage, plain_storage
from planner.formats.dense import ceil_div, roles_from
from planner.formats.registry import FormatOptions, format_data, register_format
from planner.model.spec import ModelSpec, TensorGroup

FAMILY = "mxfp4"


def _facts() -> dict[str, Any]:
    return format_data(FAMILY)["formats"]["mxfp4"]


class Mxfp4Format(QuantFormat):
    """gpt-oss MXFP4: expert blocks and scales, BF16 elsewhere."""

    family = FAMILY
    id = "mxfp4"

    def __init__(self) -> None:
        entry = _facts()
        self.description = entry["description"]
        self.source = entry["source"]
        self.engines = tuple(entry["engines"])
        self.block = entry["block"]
        self.values_per_byte = entry["values_per_byte"]
        self.scale_bytes = entry["scale_bytes"]
        self.kept_dtype = entry["kept_dtype"]
        self.quantized_roles = roles_from(entry["quantized_roles"])
        self.nominal_bits = 8 * (self.block // self.values_per_byte + self.scale_bytes) / self.block

    def storage(self, group: TensorGroup, spec: ModelSpec) -> TensorStorage:
        if group.role not in self.quantized_roles or len(group.shape) != 2:
            return plain_storage(group, self.kept_dtype)
        out_features, in_features = group.shape
        blocks = out_features * ceil_div(in_features, self.block)
        per_tensor = blocks * (self.block // self.values_per_byte + self.scale_bytes)
        label = f"mxfp4 (e2m1 b{self.block} + e8m0 scale)"
        return TensorStorage(group, label, per_tensor * group.count, quantized=True)

    def notes(self, spec: ModelSpec) -> tuple[str, ...]:
        if any(t.role in self.quantized_roles for t in spec.tensors):
            return ()
        return ("this model has no routed experts: MXFP4 as gpt-oss stores it leaves every tensor BF16",)


@register_format(r"mxfp4", listed=("mxfp4",))
def _mxfp4(format_id: str, options: FormatOptions) -> QuantFormat:
    return Mxfp4Format()
