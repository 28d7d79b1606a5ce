"""How a quantization format stores each tensor: the types every format module returns.

A format answers one question per tensor group: with which storage type, and how
many bytes (quantized data plus its scales, zeros, absmax and indices, or the
16-bit copy it leaves unquantized). Bytes are exact integers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import field

from planner.frozen import record
from planner.memo import per_object
from planner.model.spec import ModelSpec, Role, TensorGroup

#: Roles no weight-only format quantizes: they are vectors, lookups or tiny (norms, biases,
#: router logits, SSM parameters, conv kernels, attention sinks). Formats may keep more in 16-bit.
NEVER_QUANTIZED = frozenset(
    {
        Role.NORM,
        Role.BIAS,
        Role.ATTN_SINKS,
        Role.SSM_PARAM,
        Role.SSM_CONV,
        Role.POSITION_EMBEDDING,
    }
)

#: Bytes per element of plain dtypes.
DTYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2, "fp8": 1, "int8": 1}


@record
class TensorStorage:
    """How one tensor group is stored: a type label and the exact bytes of all its copies."""

    group: TensorGroup
    storage: str  # e.g. "bf16", "nf4 b64 + fp32 absmax", "Q6_K", "int4 g128 (qweight+scales+qzeros)"
    bytes: int
    quantized: bool

    @property
    def bits_per_weight(self) -> float:
        """Average stored bits per parameter of this group."""
        return 8 * self.bytes / self.group.parameters if self.group.parameters else 0.0


@record
class WeightsReport:
    """Every tensor of a model stored in one format."""

    format_id: str
    tensors: tuple[TensorStorage, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def total_bytes(self) -> int:
        """Bytes of every tensor, quantized data and quantization state included."""
        return _report_sums(self)[0]

    @property
    def bits_per_weight(self) -> float:
        """Average stored bits per parameter over the whole model."""
        total, params = _report_sums(self)
        return 8 * total / params if params else 0.0

    def bytes_by_role(self) -> dict[Role, int]:
        """Bytes per tensor role."""
        out: dict[Role, int] = {}
        for t in self.tensors:
            out[t.group.role] = out.get(t.group.role, 0) + t.bytes
        return out

    def bytes_where(self, roles: frozenset[Role]) -> int:
        """Bytes of the tensors whose role is in ``roles``."""
        return sum(t.bytes for t in self.tensors if t.group.role in roles)


class QuantFormat(ABC):
    """A weight storage format. Subclasses say how each tensor group is stored.

    ``id`` is the canonical lower-case id (``bnb-nf4``, ``q4_k_m``, ``exl2-4.0``);
    ``engines`` lists the engines that load it; ``source`` cites where the layout is defined.
    """

    id: str
    family: str
    description: str
    source: str
    engines: tuple[str, ...]
    #: Nominal bits of the quantized weights (16 for bf16, 4 for NF4, 4.5 for EXL2 4.5 bpw...).
    nominal_bits: float

    @abstractmethod
    def storage(self, group: TensorGroup, spec: ModelSpec) -> TensorStorage:
        """How ``group`` is stored in this format (all ``group.count`` copies)."""

    def weights(self, spec: ModelSpec) -> WeightsReport:
        """Every tensor group of ``spec`` in this format (built once per format and spec object)."""
        return _weights(self, spec)

    def build_weights(self, spec: ModelSpec) -> WeightsReport:
        """Build :meth:`weights`' report; formats with a whole-model plan (GGUF) override this."""
        return WeightsReport(self.id, tuple(self.storage(g, spec) for g in spec.tensors), self.notes(spec))

    def notes(self, spec: ModelSpec) -> tuple[str, ...]:
        """Caveats for this model in this format (e.g. experts a backend leaves unquantized)."""
        return ()


@per_object()
def _report_sums(report: WeightsReport) -> tuple[int, int]:
    """(bytes, parameters) of a report (frozen: summed once)."""
    return sum(t.bytes for t in report.tensors), sum(t.group.parameters for t in report.tensors)


@per_object(objects=2, maxsize=4096)
def _weights(fmt: QuantFormat, spec: ModelSpec) -> WeightsReport:
    return fmt.build_weights(spec)


def known_weights(fmt: QuantFormat, spec: ModelSpec) -> WeightsReport | None:
    """``fmt.weights(spec)`` when this process already holds it, else ``None`` (nothing is built)."""
    return _weights.cache.peek((fmt, spec))  # type: ignore[attr-defined]


def remember_weights(
    fmt: QuantFormat, spec: ModelSpec, report: WeightsReport, total_bytes: int | None = None
) -> None:
    """Make ``report`` what ``fmt.weights(spec)`` returns in this process (a report read back from disk).

    ``total_bytes``, when the caller has summed them already, with the spec's parameters (one storage
    per group of ``spec``, so the same sum) are remembered as the report's sums."""
    _weights.cache.put((fmt, spec), (), report)  # type: ignore[attr-defined]
    if total_bytes is not None and len(report.tensors) == len(spec.tensors):
        _report_sums.cache.put((report,), (), (total_bytes, spec.total_parameters))  # type: ignore[attr-defined]


def plain_storage(group: TensorGroup, dtype: str) -> TensorStorage:
    """``group`` kept unquantized in a plain dtype (``bf16``, ``fp16``, ``fp32``)."""
    return TensorStorage(group, dtype, group.parameters * DTYPE_BYTES[dtype], quantized=False)
