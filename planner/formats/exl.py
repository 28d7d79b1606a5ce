"""EXL2 and EXL3 (ExLlamaV2/V3) at a target bits-per-weight: ``exl2-4.65``, ``exl3-4.0``.

The bpw is an average *target* over the decoder's linear layers: the converter
reaches it by mixing bit widths, so the bytes per tensor here are that average,
and a real file lands near, not exactly on, the total. The output head uses its
own width (``--head_bits``, default 6; EXL2's 6 is about 6.3 bpw per its docs);
embeddings, norms and routers stay fp16. No engine the planner models loads these
formats (they run in ExLlamaV2/ExLlamaV3), so ``engines`` is empty.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any

from planner.formats.base import NEVER_QUANTIZED, QuantFormat, TensorStorage, plain_storage
from planner.formats.dense import roles_from
from planner.formats.registry import FormatOptions, UnknownFormatError, format_data, register_format
from planner.model.spec import ModelSpec, Role, TensorGroup

FAMILY = "exl"


def _facts() -> dict[str, Any]:
    return format_data(FAMILY)


def _bytes(parameters: int, bits: Decimal) -> int:
    """Whole bytes holding ``parameters`` weights at ``bits`` each (exact decimal arithmetic)."""
    return math.ceil(Decimal(parameters) * bits / 8)


def _canonical(bpw: Decimal) -> str:
    text = format(bpw.normalize(), "f")
    return text if "." in text else f"{text}.0"


class ExlFormat(QuantFormat):
    """EXL2 or EXL3 at an average bpw with a separate lm_head width."""

    family = FAMILY

    def __init__(self, version: str, bpw: Decimal, head_bits: int | None = None) -> None:
        facts = _facts()
        entry = facts["formats"][version]
        low, high = Decimal(str(entry["min_bpw"])), Decimal(str(entry["max_bpw"]))
        if not low <= bpw <= high:
            raise UnknownFormatError(f"{version} bits per weight must be between {low} and {high}, not {bpw}")
        head_bits = entry["default_head_bits"] if head_bits is None else head_bits
        if head_bits not in entry["head_bits_options"]:
            raise UnknownFormatError(
                f"{version} head bits must be one of {entry['head_bits_options']}, not {head_bits}"
            )
        self.version = version
        self.bpw = bpw
        self.head_bits = head_bits
        self.head_bpw = Decimal(str(entry["head_bits_effective"].get(str(head_bits), head_bits)))
        self.id = f"{version}-{_canonical(bpw)}"
        self.description = entry["description"]
        self.source = entry["source"]
        self.engines = tuple(entry["engines"])
        self.nominal_bits = float(bpw)
        self.hq_extra = entry.get("hq_extra_bpw")
        self.kept = NEVER_QUANTIZED | roles_from(facts["kept_16bit_roles"]["roles"])

    def storage(self, group: TensorGroup, spec: ModelSpec) -> TensorStorage:
        if group.role in self.kept or len(group.shape) != 2:
            return plain_storage(group, "fp16")
        if group.role is Role.LM_HEAD:
            label = f"{self.version} head {self.head_bits}-bit (~{self.head_bpw} bpw)"
            return TensorStorage(group, label, _bytes(group.parameters, self.head_bpw), quantized=True)
        label = f"{self.version} ~{self.bpw} bpw (average target)"
        return TensorStorage(group, label, _bytes(group.parameters, self.bpw), quantized=True)

    def notes(self, spec: ModelSpec) -> tuple[str, ...]:
        notes = [
            f"{self.bpw} bpw is the converter's average target over the linear layers; it mixes bit widths "
            "across layers, so a real file lands near this size, not exactly on it",
            f"{self.version.upper()} runs in ExLlamaV{self.version[-1]} (TabbyAPI), not in transformers, "
            "vLLM or llama.cpp",
        ]
        if self.hq_extra:
            notes.append(
                f"EXL3 -hq raises attention and shared-expert layers: typically +{self.hq_extra[0]:g} to "
                f"+{self.hq_extra[1]:g} bpw on MoE models, not included"
            )
        if spec.tied_embeddings:
            notes.append(
                "the lm_head is tied to the embedding here; if the converter writes a separate quantized "
                "head, that copy is not counted"
            )
        return tuple(notes)


def _factory(format_id: str, options: FormatOptions) -> QuantFormat:
    version, _, bpw_text = format_id.partition("-")
    try:
        bpw = Decimal(bpw_text)
    except InvalidOperation as exc:  # the pattern admits only digits, so this is defensive
        raise UnknownFormatError(f"bad bits per weight in '{format_id:.40}'") from exc
    return ExlFormat(version, bpw, options.head_bits)


register_format(r"exl2-\d+(?:\.\d+)?", listed=("exl2-<bpw>",))(_factory)
register_format(r"exl3-\d+(?:\.\d+)?", listed=("exl3-<bpw>",))(_factory)
