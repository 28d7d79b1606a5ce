"""Which quantizer produces each planner format, and where it can run.

Every format is made by transformers' own quantizer (its module swap decides what stays
16-bit: ``lm_head``, embeddings, routers, and the fused 3-D MoE experts that bitsandbytes
and HQQ skip), so a measurement checks the planner against what users get from
``from_pretrained(..., quantization_config=...)``.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

#: Plain dtypes: no quantizer.
PLAIN = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


class UnsupportedFormat(ValueError):
    """The verifier has no way to produce this format (a planner format it cannot build)."""


@dataclass(frozen=True, slots=True)
class Backend:
    """How the verifier builds one format.

    ``method``: ``none`` (plain dtype), ``bitsandbytes``, ``fp8`` (transformers
    FineGrainedFP8) or ``hqq``. ``cpu_weights``: it quantizes on the CPU, so CPU mode
    measures its weights; ``cpu_prefill``: its layers also run forward on the CPU.
    ``packages``: import names it needs. ``min_capability``: CUDA compute capability.
    ``kept``: what stays unquantized, for the record.
    """

    format_id: str
    method: str
    dtype: str  # the model's (activation) dtype: a torch dtype name
    cpu_weights: bool
    cpu_prefill: bool
    packages: tuple[str, ...] = ()
    min_capability: tuple[int, int] | None = None
    kept: str = ""
    options: tuple[tuple[str, Any], ...] = ()

    def option(self, key: str, default: Any = None) -> Any:
        """One quantizer option (``quant_type``, ``double_quant``, ``bits``...)."""
        return dict(self.options).get(key, default)


_BNB_KEPT = (
    "transformers' replace_with_bnb_linear swaps only nn.Linear: lm_head (get_keys_to_not_convert), "
    "embeddings, norms, routers and v5's fused 3-D MoE experts stay in the model dtype"
)
_FP8_KEPT = (
    "transformers' replace_with_fp8_linear swaps nn.Linear and fused experts (FP8Experts); lm_head, "
    "embeddings, norms and routers stay in the model dtype; a weight whose shape is not a whole "
    "number of blocks is left unquantized by Fp8Quantize"
)
_HQQ_KEPT = (
    "transformers' prepare_for_hqq_linear tags only nn.Linear outside skip_modules ['lm_head']: "
    "embeddings, norms, routers and v5's fused 3-D MoE experts stay in the model dtype"
)


def backend_for(format_id: str) -> Backend:
    """The backend for a planner format id (``bf16``, ``bnb-nf4-dq``, ``fp8-block``, ``hqq-int4``)."""
    fid = format_id.strip().lower()
    if fid in PLAIN:
        return Backend(fid, "none", PLAIN[fid], cpu_weights=True, cpu_prefill=True, kept="every tensor")
    if fid == "bnb-int8":
        return Backend(
            fid,
            "bitsandbytes",
            "bfloat16",
            cpu_weights=True,
            cpu_prefill=True,
            packages=("bitsandbytes",),
            kept=_BNB_KEPT,
            options=(("bits", 8),),
        )
    if fid in ("bnb-nf4", "bnb-nf4-dq", "bnb-fp4", "bnb-fp4-dq"):
        return Backend(
            fid,
            "bitsandbytes",
            "bfloat16",
            cpu_weights=True,
            cpu_prefill=True,
            packages=("bitsandbytes",),
            kept=_BNB_KEPT,
            options=(("bits", 4), ("quant_type", fid[4:7]), ("double_quant", fid.endswith("-dq"))),
        )
    if fid in ("fp8", "fp8-tensor", "fp8-block"):
        # NOTE: planner ``fp8`` is one FP32 scale per tensor; FineGrainedFP8 with
        # weight_block_size=None quantizes each weight as one block, i.e. exactly that.
        block = (128, 128) if fid == "fp8-block" else None
        return Backend(
            fid,
            "fp8",
            "bfloat16",
            cpu_weights=True,
            cpu_prefill=False,
            min_capability=(8, 9),
            kept=_FP8_KEPT,
            options=(("block", block),),
        )
    if fid in ("hqq-int2", "hqq-int3", "hqq-int4", "hqq-int8"):
        return Backend(
            fid,
            "hqq",
            "bfloat16",
            cpu_weights=True,
            cpu_prefill=True,
            packages=("hqq",),
            kept=_HQQ_KEPT,
            options=(("bits", int(fid[-1])), ("group_size", 64)),
        )
    raise UnsupportedFormat(
        f"the verifier cannot build '{format_id}'; it builds: {', '.join(supported_formats())}"
    )


def supported_formats() -> tuple[str, ...]:
    """Format ids the verifier builds."""
    return (
        *PLAIN,
        "bnb-int8",
        "bnb-nf4",
        "bnb-nf4-dq",
        "bnb-fp4",
        "bnb-fp4-dq",
        "fp8",
        "fp8-tensor",
        "fp8-block",
        "hqq-int2",
        "hqq-int3",
        "hqq-int4",
        "hqq-int8",
    )


def missing_packages(backend: Backend) -> list[str]:
    """The packages ``backend`` needs that are not importable here."""
    return [p for p in backend.packages if importlib.util.find_spec(p) is None]


def skip_reason(backend: Backend, device: str, capability: tuple[int, int] | None = None) -> str | None:
    """Why ``backend`` cannot run on ``device`` here, or ``None`` when it can.

    ``capability`` is the CUDA device's (major, minor) compute capability.
    """
    missing = missing_packages(backend)
    if missing:
        return f"{backend.format_id} needs {', '.join(missing)}, which is not installed"
    too_old = backend.min_capability is not None and capability is not None
    if device == "cuda" and too_old and tuple(capability) < backend.min_capability:
        need = ".".join(map(str, backend.min_capability))
        have = ".".join(map(str, capability))
        return f"{backend.format_id} needs compute capability {need}+ (this GPU has {have})"
    if device == "cpu" and not backend.cpu_weights:
        return f"{backend.format_id} cannot be quantized on the CPU"
    return None


def quantization_config(backend: Backend) -> Any:
    """transformers' quantization config object for ``backend`` (``None`` for a plain dtype)."""
    import torch

    if backend.method == "none":
        return None
    if backend.method == "bitsandbytes":
        from transformers import BitsAndBytesConfig

        if backend.option("bits") == 8:
            return BitsAndBytesConfig(load_in_8bit=True)
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=backend.option("quant_type"),
            bnb_4bit_use_double_quant=backend.option("double_quant"),
            bnb_4bit_compute_dtype=getattr(torch, backend.dtype),
        )
    if backend.method == "fp8":
        from transformers import FineGrainedFP8Config

        return FineGrainedFP8Config(weight_block_size=backend.option("block"))
    if backend.method == "hqq":
        from transformers import HqqConfig

        return HqqConfig(nbits=backend.option("bits"), group_size=backend.option("group_size"))
    raise UnsupportedFormat(backend.format_id)  # pragma: no cover - backend_for builds only the above


__all__ = [
    "PLAIN",
    "Backend",
    "UnsupportedFormat",
    "backend_for",
    "missing_packages",
    "quantization_config",
    "skip_reason",
    "supported_formats",
]
