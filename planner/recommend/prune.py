"""A cheap, safe test that a (model, format) pair cannot fit a budget, made before its estimate.

Most of what ``recommend`` computes on a small card is the exact weights of pairs far too big for
it (a 671B model in 8-bit on 24 GB), and exact GGUF weights are the costly part of an estimate
(the per-tensor type plan of :mod:`planner.formats.gguf`). :func:`cannot_fit` skips such a pair
when a lower bound on the GPU bytes of its weights alone is above the budget's total capacity.

The bound counts only the decoder's matrices (attention, MLP and expert projections), which every
format and engine keeps on the GPU when every layer is on it: the token embedding (llama.cpp keeps
it in host memory), the output head, vision towers (a GGUF's separate mmproj file), MTP layers
(which a GGUF leaves out) and the vectors are not counted. Each matrix is counted at the fewest
bits per weight the format can give it:

* uniform formats (16-bit, FP8, bitsandbytes, GPTQ/AWQ/HQQ, MLX, MXFP4) store each quantized
  matrix at their width plus scales, and keep the others at 16 bits: at least the whole bits of
  ``nominal_bits`` (MLX's nominal 4.5 includes the scales of its default group size, a
  ``--group-size`` changes; 4 does not);
* the GGUF k-quant and legacy ftypes give each matrix the ftype's default type or a wider one
  (``llama_tensor_get_type`` only raises their width; ``tensor_type_fallback`` swaps to wider
  types): at least the default type's bits. The i-quant mixes lower some matrices (IQ3_XXS puts
  ``attn_q``/``attn_k`` in IQ2_S) and are not bounded here;
* routed experts count at no more than 4.25 bits (MXFP4), since a model released with MXFP4
  experts keeps them in it (a GGUF of gpt-oss, llama-quantize does not requantize them).

EXL2/EXL3 (per-layer bitrates around the average), ``stored`` checkpoints and any other format are
never skipped. Nor is anything when ``gpu_layers`` puts layers on the CPU.

Why skipping is safe: a pair fits only when each card's share is within its usable bytes, and no
card's usable bytes exceed its capacity, so the GPU bytes of a fitting pair are at most the budget's
capacity, and its weights are part of those bytes. A skipped pair is one ``recommend`` would have
found not to fit (or that its format refuses): the answer is the same, byte for byte;
``tests/planner/recommend/test_prune.py`` checks it against the full estimates of the catalog.
"""

from __future__ import annotations

import math

from planner.fit import Budget
from planner.formats.base import QuantFormat
from planner.formats.gguf_types import ggml_type
from planner.memo import per_object
from planner.memory.estimate import RunSettings
from planner.model.spec import DENSE_LINEAR_ROLES, ROUTED_EXPERT_ROLES, ModelSpec

#: Decoder matrices every format and engine keeps on the GPU when every layer is there.
MATRIX_ROLES = DENSE_LINEAR_ROLES | ROUTED_EXPERT_ROLES
#: Format families that store every matrix at ``nominal_bits`` or more.
UNIFORM_FAMILIES = frozenset({"dense", "bitsandbytes", "grouped", "mlx", "mxfp4"})
#: GGUF ftypes whose type plan never gives a matrix fewer bits than the ftype's default type.
GGUF_NO_NARROWER = frozenset(
    {
        "Q8_0",
        "Q6_K",
        "Q5_K_M",
        "Q5_K_S",
        "Q5_1",
        "Q5_0",
        "Q4_K_M",
        "Q4_K_S",
        "Q4_1",
        "Q4_0",
        "Q3_K_L",
        "Q3_K_M",
        "Q3_K_S",
        "Q2_K",
        "Q2_K_S",
    }
)
#: Bits per weight of MXFP4 (4-bit values + one 8-bit scale per 32): experts released in it stay in it.
MXFP4_BITS = 4.25


def floor_bits(fmt: QuantFormat) -> float | None:
    """The fewest bits per weight ``fmt`` gives any decoder matrix, or ``None`` when it is not bounded."""
    if fmt.family in UNIFORM_FAMILIES:
        return float(math.floor(fmt.nominal_bits))
    file_type = getattr(fmt, "file_type", None)
    if fmt.family == "gguf" and file_type is not None and file_type.id.upper() in GGUF_NO_NARROWER:
        return ggml_type(file_type.default_type).bits_per_weight
    return None


@per_object(maxsize=1024)
def _matrix_parameters(spec: ModelSpec) -> tuple[int, int]:
    """(routed-expert, other) decoder matrix parameters of ``spec``."""
    experts = other = 0
    for g in spec.tensors:
        if g.role in ROUTED_EXPERT_ROLES:
            experts += g.parameters
        elif g.role in MATRIX_ROLES:
            other += g.parameters
    return experts, other


@per_object(objects=2, maxsize=4096)
def weights_floor(spec: ModelSpec, fmt: QuantFormat) -> int | None:
    """A lower bound on the GPU bytes of ``spec``'s weights in ``fmt`` (every layer on the GPU), or ``None``.

    Remembered per spec and format: a new context or budget asks again for every pair."""
    bits = floor_bits(fmt)
    if bits is None:
        return None
    experts, other = _matrix_parameters(spec)
    return int((experts * min(bits, MXFP4_BITS) + other * bits) // 8)


def cannot_fit(spec: ModelSpec, fmt: QuantFormat, settings: RunSettings, budget: Budget) -> bool:
    """Whether ``fmt``'s weights of ``spec`` alone are over ``budget``'s capacity (then no estimate is needed)."""
    if settings.gpu_layers is not None:
        return False
    floor = weights_floor(spec, fmt)
    return floor is not None and floor > budget.capacity_bytes


__all__ = ["MATRIX_ROLES", "cannot_fit", "floor_bits", "weights_floor"]
