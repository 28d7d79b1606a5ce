"""The checkpoint as stored: each tensor group's bytes from its safetensors headers.

A pre-quantized checkpoint (GPTQ, AWQ, FP8, bitsandbytes, NVFP4, MXFP4) is loaded as it
is stored, so its stored bytes are its weights' bytes; :mod:`planner.model.inventory`
folds packed data and quantization state into each logical tensor's ``stored_bytes``.
Only models described from headers (a Hub id, a local checkpoint folder) have them.
"""

from __future__ import annotations

from planner.errors import PlannerError
from planner.formats.base import QuantFormat, TensorStorage
from planner.formats.registry import FormatOptions, format_data, register_format
from planner.model.spec import ModelSpec, TensorGroup

FAMILY = "stored"
#: Stored dtypes of unquantized tensors (safetensors spelling).
_PLAIN = frozenset({"F64", "F32", "F16", "BF16"})


class StoredFormat(QuantFormat):
    """Bytes as the safetensors headers give them."""

    family = FAMILY

    def __init__(self) -> None:
        entry = format_data(FAMILY)["formats"]["stored"]
        self.id = "stored"
        self.description = entry["description"]
        self.source = entry["source"]
        self.engines = tuple(entry["engines"])
        self.nominal_bits = 16.0

    def storage(self, group: TensorGroup, spec: ModelSpec) -> TensorStorage:
        if group.stored_bytes is None:
            raise PlannerError(
                f"format 'stored' needs the checkpoint's safetensors headers, and {spec.name} was described "
                f"from its {spec.inventory_source.value}: give a Hub id or a local checkpoint folder"
            )
        label = group.stored_as or "as stored"
        return TensorStorage(group, label, group.stored_bytes, quantized=label not in _PLAIN)


@register_format(r"stored", listed=())
def _stored(format_id: str, options: FormatOptions) -> QuantFormat:
    return StoredFormat()
