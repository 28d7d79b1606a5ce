"""GGUF file names: the quantization type they name, and shards grouped into variants.

A ``*-GGUF`` repo is planned from its file list alone (no file is read), so the
name is all there is to go on: ``Q4_K_M``, ``IQ2_XS``, ``UD-Q4_K_XL``... and the
``-0000k-of-0000n`` or ``.partKofN`` shard suffixes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from planner.hub.results import GGUFVariant

_GGUF_SHARD = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)
_GGUF_PART = re.compile(r"\.gguf\.part(\d+)of(\d+)$", re.IGNORECASE)
_GGUF_QUANT = re.compile(
    r"(?<![A-Za-z0-9])(?:(UD)[-_])?("
    r"I?Q[1-8](?:_[0-9]){1,3}"
    r"|I?Q[1-8]_K(?:_(?:XL|S|M|L))?"
    r"|IQ[1-8]_(?:XXS|XS|NL|S|M)"
    r"|TQ[12]_0|MXFP4(?:_MOE)?|NVFP4|BF16|FP16|F16|FP32|F32"
    r")(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_FLOAT_ALIASES = {"FP16": "F16", "FP32": "F32"}


def gguf_quant_type(filename: str) -> str | None:
    """The GGUF file type named in a file name (``Q4_K_M``, ``IQ2_XS``, ``BF16``...), or None.

    Reads the last match in the base name, after removing any shard suffix; lower
    case is accepted (``q8_0``) and ``fp16`` reads as ``F16``. Unsloth's dynamic
    quants keep their prefix (``UD-Q4_K_XL``).
    """
    base = filename.rsplit("/", 1)[-1]
    base = _GGUF_PART.sub(".gguf", _GGUF_SHARD.sub(".gguf", base))
    matches = list(_GGUF_QUANT.finditer(base))
    if not matches:
        return None
    last = matches[-1]
    quant = last.group(2).upper()
    quant = _FLOAT_ALIASES.get(quant, quant)
    return f"UD-{quant}" if last.group(1) else quant


def gguf_variants(files: Iterable[tuple[str, int]]) -> tuple[GGUFVariant, ...]:
    """Group ``(path, size)`` pairs into GGUF variants, shards summed, smallest first."""
    groups: dict[str, list[tuple[int, str, int]]] = {}
    expected: dict[str, int] = {}
    for path, size in files:
        lower = path.lower()
        match = _GGUF_SHARD.search(path) or _GGUF_PART.search(path)
        if match:
            key = path[: match.start()] + ".gguf"
            index, total = int(match.group(1)), int(match.group(2))
        elif lower.endswith(".gguf"):
            key, index, total = path, 1, 1
        else:
            continue
        groups.setdefault(key, []).append((index, path, max(int(size), 0)))
        expected[key] = max(expected.get(key, 1), total)
    variants = []
    for key, parts in groups.items():
        parts.sort()
        base = key.rsplit("/", 1)[-1].lower()
        variants.append(
            GGUFVariant(
                name=key,
                quant=gguf_quant_type(key),
                files=tuple(p for _, p, _ in parts),
                size_bytes=sum(s for _, _, s in parts),
                expected_shards=expected[key],
                is_projector="mmproj" in base,
            )
        )
    variants.sort(key=lambda v: (v.is_projector, v.size_bytes, v.name))
    return tuple(variants)
