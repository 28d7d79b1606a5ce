"""Group-wise integer formats: GPTQ (2/3/4/8-bit), AWQ (4-bit) and HQQ (2/3/4/8-bit).

Per quantized linear layer ``[out, in]`` with ``groups = ceil(in / group_size)``
(``group_size`` -1: one group, i.e. per output channel):

* GPTQ: qweight int32 packed along ``in``, qzeros int32 ``[groups, out packed]``,
  scales fp16 ``[groups, out]`` and g_idx int32 ``[in]`` (always in the checkpoint,
  act-order or not, so ``act_order`` does not change the bytes);
* AWQ (GEMM): qweight int32 ``[in, out / 8]``, qzeros int32 ``[groups, out / 8]``,
  scales fp16 ``[groups, out]``;
* HQQ (axis 1): codes for the ``[numel / group, group]`` view bit-packed along its
  rows, plus an fp16 scale and zero per group.

Packing units, dtypes, defaults and the roles kept in 16-bit are in
``data/formats/grouped.json`` with their sources.
"""

from __future__ import annotations

from typing import Any

from planner.formats.base import NEVER_QUANTIZED, QuantFormat, TensorStorage, plain_storage
from planner.formats.dense import ceil_div, roles_from
from planner.formats.registry import FormatOptions, UnknownFormatError, format_data, register_format
from planner.model.spec import ROUTED_EXPERT_ROLES, ModelSpec, TensorGroup

FAMILY = "grouped"


def _facts() -> dict[str, Any]:
    return format_data(FAMILY)


class GroupedFormat(QuantFormat):
    """One of GPTQ, AWQ or HQQ at a bit width and group size."""

    family = FAMILY

    def __init__(
        self, method: str, bits: int, group_size: int | None = None, act_order: bool = False
    ) -> None:
        facts = _facts()
        entry = facts["formats"][method]
        if bits not in entry["bits"]:
            raise UnknownFormatError(f"{method} supports {entry['bits']} bits, not {bits}")
        group_size = entry["default_group_size"] if group_size is None else group_size
        if group_size != -1 and group_size < 1:
            raise UnknownFormatError(f"group size must be positive or -1 (per channel), not {group_size}")
        self.method = method
        self.bits = bits
        self.group_size = group_size
        self.act_order = act_order and method == "gptq"
        self.entry = entry
        self.id = f"{method}-int{bits}"
        self.description = entry["description"]
        self.source = entry["source"]
        self.nominal_bits = float(bits)
        self.engines = tuple(
            entry["engines_int4_g64"]
            if method == "hqq" and bits == 4 and group_size == 64
            else entry["engines"]
        )
        self.kept = NEVER_QUANTIZED | roles_from(facts["kept_16bit_roles"]["roles"])
        if method == "hqq":
            # NOTE: transformers' HQQ path only replaces nn.Linear; v5's fused experts are not.
            self.kept |= ROUTED_EXPERT_ROLES

    def _group(self, in_features: int) -> int:
        return in_features if self.group_size == -1 else self.group_size

    def _pack(self, values: int) -> int:
        """Bytes of ``values`` codes packed in this method's unit (values -> bytes)."""
        unit_values, unit_bytes = self.entry["pack_unit"][str(self.bits)]
        return ceil_div(values, unit_values) * unit_bytes

    def _gptq(self, out_features: int, in_features: int) -> int:
        groups = ceil_div(in_features, self._group(in_features))
        qweight = self._pack(in_features) * out_features
        qzeros = groups * self._pack(out_features)
        scales = groups * out_features * self.entry["scale_bytes"]
        g_idx = in_features * self.entry["g_idx_bytes"]
        return qweight + qzeros + scales + g_idx

    def _awq(self, out_features: int, in_features: int) -> int:
        groups = ceil_div(in_features, self._group(in_features))
        qweight = in_features * self._pack(out_features)
        qzeros = groups * self._pack(out_features)
        scales = groups * out_features * self.entry["scale_bytes"]
        return qweight + qzeros + scales

    def _hqq(self, out_features: int, in_features: int) -> int:
        group = self._group(in_features)
        rows = ceil_div(out_features * in_features, group)
        codes = self._pack(rows) * group
        meta = rows * self.entry["meta_per_group"] * self.entry["meta_bytes"]
        return codes + meta

    def _label(self) -> str:
        group = "per channel" if self.group_size == -1 else f"g{self.group_size}"
        parts = {
            "gptq": "qweight+qzeros+scales+g_idx",
            "awq": "qweight+qzeros+scales",
            "hqq": "packed codes + fp16 scale/zero",
        }[self.method]
        order = ", act-order" if self.act_order else ""
        return f"{self.method} int{self.bits} {group}{order} ({parts})"

    def storage(self, group: TensorGroup, spec: ModelSpec) -> TensorStorage:
        if group.role in self.kept or len(group.shape) != 2:
            return plain_storage(group, "fp16")
        out_features, in_features = group.shape
        per_tensor = {"gptq": self._gptq, "awq": self._awq, "hqq": self._hqq}[self.method](
            out_features, in_features
        )
        return TensorStorage(group, self._label(), per_tensor * group.count, quantized=True)

    def notes(self, spec: ModelSpec) -> tuple[str, ...]:
        notes = []
        if self.method == "hqq":
            experts = sum(t.parameters for t in spec.tensors if t.role in ROUTED_EXPERT_ROLES)
            if experts:
                notes.append(
                    f"transformers' HQQ path only replaces nn.Linear, and v5 stores MoE experts as fused 3-D "
                    f"parameters: the {experts / 1e9:.2f}B routed-expert parameters stay 16-bit here"
                )
        if self.method == "gptq" and self.act_order:
            notes.append(
                "act-order (desc_act) does not change the checkpoint: g_idx is stored either way; "
                "some kernels keep an extra int32 sort index per layer at run time (not counted)"
            )
        return tuple(notes)


@register_format(r"gptq-int[2348]", listed=("gptq-int2", "gptq-int3", "gptq-int4", "gptq-int8"))
def _gptq(format_id: str, options: FormatOptions) -> QuantFormat:
    return GroupedFormat("gptq", int(format_id[-1]), options.group_size, options.act_order)


@register_format(r"awq-int4", listed=("awq-int4",))
def _awq(format_id: str, options: FormatOptions) -> QuantFormat:
    return GroupedFormat("awq", 4, options.group_size)


@register_format(r"hqq-int[2348]", listed=("hqq-int2", "hqq-int3", "hqq-int4", "hqq-int8"))
def _hqq(format_id: str, options: FormatOptions) -> QuantFormat:
    return GroupedFormat("hqq", int(format_id[-1]), options.group_size)
