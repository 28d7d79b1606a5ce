"""Pre-quantized checkpoints: what the config says, what the tensors show, and both merged.

A GPTQ/AWQ/bitsandbytes/FP8/MXFP4/NVFP4 checkpoint stores weights that are not the
logical parameters, so the planner must know before it counts bytes. The config's
``quantization_config`` names the method; the safetensors names and dtypes confirm
it and fill in bits and group size when the config leaves them out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from planner.hub.results import PreQuantization, TensorEntry


def quantization_from_config(config: Mapping[str, Any] | None) -> PreQuantization | None:
    """Read ``quantization_config`` (top level, or in ``text_config``) of a config dict."""
    if not isinstance(config, Mapping):
        return None
    qc = config.get("quantization_config") or config.get("compression_config")
    if not isinstance(qc, Mapping):
        text = config.get("text_config")
        qc = text.get("quantization_config") if isinstance(text, Mapping) else None
    if not isinstance(qc, Mapping):
        return None

    method = qc.get("quant_method")
    method = method.strip().lower() if isinstance(method, str) and method.strip() else ""
    if not method and (qc.get("load_in_4bit") is True or qc.get("load_in_8bit") is True):
        method = "bitsandbytes"
    if not method and isinstance(qc.get("quant_algo"), str):
        method = "modelopt"
    if not method:
        return None

    bits = as_bits(qc.get("bits")) or as_bits(qc.get("w_bit")) or as_bits(qc.get("nbits"))
    group = as_group_size(qc.get("group_size"))
    if group is None:
        group = as_group_size(qc.get("q_group_size"))
    evidence: list[str] = [f"quantization_config.quant_method = {method!r}"]

    if method == "bitsandbytes":
        if qc.get("load_in_4bit") is True:
            bits = 4
            kind = qc.get("bnb_4bit_quant_type")
            if isinstance(kind, str):
                evidence.append(f"bnb_4bit_quant_type = {kind!r}")
        elif qc.get("load_in_8bit") is True:
            bits = 8
    elif method in ("fp8", "fbgemm_fp8"):
        bits = bits or 8
        block = qc.get("weight_block_size")
        if isinstance(block, list) and block:
            evidence.append(f"weight_block_size = {block}")
    elif method == "mxfp4":
        bits, group = bits or 4, group or 32
    elif method == "compressed-tensors":
        weights = _first_weights_scheme(qc.get("config_groups"))
        if weights is not None:
            bits = bits or as_bits(weights.get("num_bits"))
            group = group if group is not None else as_group_size(weights.get("group_size"))
            kind = weights.get("type")
            if isinstance(kind, str):
                evidence.append(f"weights type = {kind!r}")
        fmt = qc.get("format")
        if isinstance(fmt, str):
            evidence.append(f"format = {fmt!r}")
    elif method == "modelopt":
        algo = str(qc.get("quant_algo", "")).upper()
        evidence.append(f"quant_algo = {algo!r}")
        if "FP4" in algo:
            bits, group = bits or 4, group or 16
        elif "FP8" in algo:
            bits = bits or 8

    return PreQuantization(
        method=method,
        bits=bits,
        group_size=group,
        source="config",
        evidence=tuple(evidence),
        config=_json_safe(qc),
    )


def quantization_from_tensors(tensors: Iterable[TensorEntry]) -> PreQuantization | None:
    """Recognize a pre-quantized layout from tensor names and dtypes alone.

    GPTQ/AWQ (``I32`` ``*.qweight`` with ``*.qzeros``/``*.scales``; ``*.g_idx`` means
    GPTQ), bitsandbytes (``U8`` weights with ``*.quant_state.*``/``*.absmax``, or
    ``I8`` with ``*.SCB``), MXFP4 (``*_blocks`` + ``*_scales``), NVFP4 (``U8`` +
    ``*.weight_scale_2``) and FP8 (``F8_E4M3`` weights, with ``*.weight_scale_inv``
    or ``*.weight_scale``). Bits and group size are inferred from the shapes of one
    GPTQ/AWQ layer where they are consistent.
    """
    by_name: dict[str, TensorEntry] = {}
    dtypes: dict[str, int] = {}
    for t in tensors:
        by_name[t.name] = t
        dtypes[t.dtype] = dtypes.get(t.dtype, 0) + 1

    def with_suffix(*suffixes: str) -> list[str]:
        return [n for n in by_name if n.endswith(suffixes)]

    qweights = [n for n in with_suffix(".qweight") if by_name[n].dtype in ("I32", "U32", "I16", "U8", "I8")]
    if qweights:
        has_gidx = bool(with_suffix(".g_idx"))
        method = "gptq" if has_gidx else "awq"
        bits, group = _packed_layout(by_name, qweights, gptq=has_gidx)
        parts = ["qzeros"] if with_suffix(".qzeros") else []
        parts += ["scales"] if with_suffix(".scales") else []
        parts += ["g_idx"] if has_gidx else []
        extra = f" with {'/'.join(parts)}" if parts else ""
        return PreQuantization(
            method,
            bits,
            group,
            source="tensors",
            evidence=(f"{len(qweights)} {by_name[qweights[0]].dtype} *.qweight tensors{extra}",),
        )

    nf4 = with_suffix(".quant_state.bitsandbytes__nf4")
    fp4 = with_suffix(".quant_state.bitsandbytes__fp4")
    if nf4 or fp4 or (with_suffix(".absmax") and with_suffix(".quant_map") and "U8" in dtypes):
        kind = "nf4" if nf4 else "fp4" if fp4 else "4-bit"
        return PreQuantization(
            "bitsandbytes",
            4,
            None,
            source="tensors",
            evidence=(f"U8 weights with bitsandbytes {kind} quant_state tensors",),
        )
    if with_suffix(".SCB") and "I8" in dtypes:
        return PreQuantization(
            "bitsandbytes", 8, None, source="tensors", evidence=("I8 weights with *.SCB scales (LLM.int8)",)
        )

    blocks = with_suffix("_blocks")
    if blocks and any(n[: -len("_blocks")] + "_scales" in by_name for n in blocks):
        return PreQuantization(
            "mxfp4", 4, 32, source="tensors", evidence=(f"{len(blocks)} *_blocks tensors with *_scales",)
        )

    if with_suffix(".weight_scale_2") and "U8" in dtypes:
        return PreQuantization(
            "nvfp4", 4, 16, source="tensors", evidence=("U8 weights with *.weight_scale_2 (NVFP4)",)
        )

    fp8_count = dtypes.get("F8_E4M3", 0) + dtypes.get("F8_E5M2", 0)
    if fp8_count:
        scale_inv = with_suffix(".weight_scale_inv")
        scale = with_suffix(".weight_scale")
        how = (
            "with *.weight_scale_inv (block scales)"
            if scale_inv
            else "with *.weight_scale"
            if scale
            else "without scale tensors"
        )
        return PreQuantization("fp8", 8, None, source="tensors", evidence=(f"{fp8_count} F8 tensors {how}",))
    return None


def merge_quantization(
    from_config: PreQuantization | None, from_tensors: PreQuantization | None
) -> PreQuantization | None:
    """Combine both readings: the config names the method, the tensors fill gaps."""
    if from_config is None or from_tensors is None:
        return from_config or from_tensors
    evidence = list(from_config.evidence) + list(from_tensors.evidence)
    if from_tensors.method != from_config.method and from_config.method != "compressed-tensors":
        evidence.append(f"tensor layout looks like {from_tensors.method}")
    return PreQuantization(
        method=from_config.method,
        bits=from_config.bits if from_config.bits is not None else from_tensors.bits,
        group_size=from_config.group_size if from_config.group_size is not None else from_tensors.group_size,
        source="config+tensors",
        evidence=tuple(evidence),
        config=from_config.config,
    )


def as_bits(value: Any) -> int | None:
    """A bit width: an int (not a bool) in 1..64."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 1 <= value <= 64 else None


def as_group_size(value: Any) -> int | None:
    """A group size: a positive int (``-1`` means per-channel in GPTQ configs: None)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 < value <= 1 << 20 else None


def _first_weights_scheme(groups: Any) -> Mapping[str, Any] | None:
    if not isinstance(groups, Mapping):
        return None
    for group in groups.values():
        if isinstance(group, Mapping) and isinstance(group.get("weights"), Mapping):
            return group["weights"]
    return None


def _packed_layout(
    by_name: Mapping[str, TensorEntry], qweights: list[str], *, gptq: bool
) -> tuple[int | None, int | None]:
    """Bits and group size of GPTQ/AWQ packing, from the first consistent layer.

    GPTQ: ``qweight [in*bits/32, out]``, ``scales [in/group, out]``, ``g_idx [in]``.
    AWQ:  ``qweight [in, out*bits/32]``, ``scales [in/group, out]``.
    """
    for name in sorted(qweights):
        prefix = name[: -len(".qweight")]
        qw = by_name[name]
        scales = by_name.get(prefix + ".scales")
        if qw.dtype not in ("I32", "U32") or len(qw.shape) != 2 or scales is None or len(scales.shape) != 2:
            continue
        if gptq:
            g_idx = by_name.get(prefix + ".g_idx")
            if g_idx is None or len(g_idx.shape) != 1 or g_idx.shape[0] == 0:
                continue
            in_features = g_idx.shape[0]
            packed_bits = qw.shape[0] * 32
            if packed_bits % in_features or scales.shape[0] == 0:
                continue
            bits = packed_bits // in_features
            group = in_features // scales.shape[0] if in_features % scales.shape[0] == 0 else None
        else:
            out_features = scales.shape[1]
            if out_features == 0 or (qw.shape[1] * 32) % out_features or scales.shape[0] == 0:
                continue
            bits = qw.shape[1] * 32 // out_features
            group = qw.shape[0] // scales.shape[0] if qw.shape[0] % scales.shape[0] == 0 else None
        if bits in (2, 3, 4, 8):
            return bits, group
    return None, None


def _json_safe(value: Any, depth: int = 0) -> Any:
    """A plain-JSON copy of ``value`` (dicts, lists, str, numbers, bools, None)."""
    if depth > 16:
        return None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v, depth + 1) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
