"""bitsandbytes: LLM.int8 and 4-bit NF4/FP4, with or without double quantization.

transformers replaces every plain ``nn.Linear`` except the output head with a
bitsandbytes layer; embeddings, norms, v5 routers and v5's fused MoE experts
(3-D parameters, bitsandbytes#1849) stay in the model dtype. Per quantized
tensor of ``n`` weights bitsandbytes allocates (0.50.2, ``_ops.py``):

* 4-bit: ``(n + 1) // 2`` uint8 codes, a 16-entry FP32 code table, and either an
  FP32 absmax per 64-block or, with double quant, a uint8 absmax per 64-block plus
  an FP32 absmax per 256 of those, a 256-entry FP32 code table and an FP32 offset;
* LLM.int8: ``n`` int8 codes (CB) and an FP32 scale per output row (SCB).

``tests/planner/formats/test_bnb.py`` checks these bytes against bitsandbytes itself.
"""

from __future__ import annotations

from typing import Any

from planner.formats.base import NEVER_QUANTIZED, QuantFormat, TensorStorage, plain_storage
from planner.formats.dense import ceil_div, roles_from
from planner.formats.registry import FormatOptions, format_data, register_format
from planner.model.spec import ROUTED_EXPERT_ROLES, ModelSpec, Role, TensorGroup

FAMILY = "bitsandbytes"
_VISION_ROLES = frozenset({Role.VISION, Role.PROJECTOR})


def _facts() -> dict[str, Any]:
    return format_data(FAMILY)


def _is_nn_linear_weight(group: TensorGroup) -> bool:
    """A vision/projector tensor that is an ``nn.Linear`` weight (the only kind bitsandbytes replaces)."""
    return len(group.shape) == 2 and group.name.endswith(".weight") and "embedding" not in group.name


class _BnbFormat(QuantFormat):
    family = FAMILY

    def __init__(self, format_id: str) -> None:
        facts = _facts()
        entry = facts["formats"][format_id]
        self.id = format_id
        self.description = entry["description"]
        self.source = entry["source"]
        self.kept = NEVER_QUANTIZED | roles_from(facts["kept_16bit_roles"]["roles"])

    def _quantizes(self, group: TensorGroup) -> bool:
        if group.role in self.kept or len(group.shape) < 2:
            return False
        return group.role not in _VISION_ROLES or _is_nn_linear_weight(group)

    def _per_tensor(self, group: TensorGroup) -> int:
        raise NotImplementedError

    def _label(self) -> str:
        raise NotImplementedError

    def storage(self, group: TensorGroup, spec: ModelSpec) -> TensorStorage:
        if not self._quantizes(group):
            return plain_storage(group, "bf16")
        return TensorStorage(group, self._label(), self._per_tensor(group) * group.count, quantized=True)

    def notes(self, spec: ModelSpec) -> tuple[str, ...]:
        experts = sum(t.parameters for t in spec.tensors if t.role in ROUTED_EXPERT_ROLES)
        if not experts:
            return ()
        return (
            f"transformers v5 stores MoE experts as fused 3-D parameters, which bitsandbytes does not "
            f"quantize (bitsandbytes#1849): the {experts / 1e9:.2f}B routed-expert parameters stay BF16 "
            "here; vLLM's bitsandbytes MoE path does quantize them",
        )


class BnbInt8(_BnbFormat):
    """LLM.int8: int8 CB plus an FP32 SCB scale per output row."""

    def __init__(self) -> None:
        super().__init__("bnb-int8")
        entry = _facts()["formats"]["bnb-int8"]
        self.engines = tuple(entry["engines"])
        self.nominal_bits = float(8 * entry["weight_bytes"])
        self.weight_bytes = entry["weight_bytes"]
        self.row_scale_bytes = entry["row_scale_bytes"]

    def _per_tensor(self, group: TensorGroup) -> int:
        rows = group.numel // group.shape[-1]
        return group.numel * self.weight_bytes + rows * self.row_scale_bytes

    def _label(self) -> str:
        return "int8 CB + fp32 SCB per row"


class Bnb4bit(_BnbFormat):
    """NF4 or FP4 codes in 64-weight blocks; double quant re-quantizes the block absmax."""

    def __init__(self, quant_type: str, double_quant: bool) -> None:
        super().__init__(f"bnb-{quant_type}-dq" if double_quant else f"bnb-{quant_type}")
        four = _facts()["four_bit"]
        self.quant_type = quant_type
        self.double_quant = double_quant
        self.engines = tuple(four["engines"])
        self.four = four
        self.nominal_bits = 8 / four["values_per_byte"]

    def _per_tensor(self, group: TensorGroup) -> int:
        f = self.four
        n = group.numel
        blocks = ceil_div(n, f["blocksize"])
        total = ceil_div(n, f["values_per_byte"]) + f["code_entries"] * f["code_bytes"]
        if not self.double_quant:
            return total + blocks * f["absmax_bytes"]
        return (
            total
            + blocks * f["quantized_absmax_bytes"]
            + ceil_div(blocks, f["nested_blocksize"]) * f["nested_absmax_bytes"]
            + f["nested_code_entries"] * f["nested_code_bytes"]
            + f["offset_bytes"]
        )

    def _label(self) -> str:
        size = self.four["blocksize"]
        if self.double_quant:
            nested = self.four["nested_blocksize"]
            return f"{self.quant_type} b{size} + uint8 absmax + fp32 absmax per {nested} blocks"
        return f"{self.quant_type} b{size} + fp32 absmax"


@register_format(
    r"bnb-int8|bnb-(?:nf4|fp4)(?:-dq)?",
    listed=("bnb-int8", "bnb-nf4", "bnb-nf4-dq", "bnb-fp4", "bnb-fp4-dq"),
)
def _bnb(format_id: str, options: FormatOptions) -> QuantFormat:
    if format_id == "bnb-int8":
        return BnbInt8()
    quant_type = "nf4" if format_id.startswith("bnb-nf4") else "fp4"
    # NOTE: FormatOptions.double_quant, when given, wins over the id's -dq suffix.
    double_quant = format_id.endswith("-dq") if options.double_quant is None else options.double_quant
    return Bnb4bit(quant_type, double_quant)
