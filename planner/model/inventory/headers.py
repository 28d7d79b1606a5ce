"""Safetensors headers of a local checkpoint folder: every tensor's name, dtype, shape and bytes.

A safetensors file starts with an 8-byte little-endian header length and a JSON header
mapping each tensor name to ``{"dtype", "shape", "data_offsets": [begin, end]}``
(https://github.com/huggingface/safetensors, "Format"). Only those bytes are read, never a
weight. A sharded checkpoint lists its files in ``model.safetensors.index.json``
(``weight_map``: tensor name -> file); without an index, ``model.safetensors``, else every
``*.safetensors`` file in the folder is read. Hub checkpoints come the same way through ``huggingface_hub``
(:mod:`planner.hub.safetensors`).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path

from planner.errors import PlannerError
from planner.model.inventory.groups import StoredGroup, StoredTensor, group_tensors

INDEX_FILE = "model.safetensors.index.json"
SINGLE_FILE = "model.safetensors"
#: A header larger than this is not a checkpoint we can read safely (real ones are < 20 MiB).
MAX_HEADER_BYTES = 100 * 1024 * 1024
#: Shards read at most (the largest published checkpoints have a few hundred).
MAX_FILES = 4096


class HeaderError(PlannerError):
    """A safetensors file whose header cannot be read; the message names the file."""


def safetensors_files(folder: Path) -> list[Path]:
    """The checkpoint's files: the index's shards, else ``model.safetensors``, else every ``*.safetensors``."""
    index = folder / INDEX_FILE
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            names = sorted({str(v) for v in weight_map.values()})
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise HeaderError(f"{index}: not a readable safetensors index ({exc})") from None
        files = [folder / n for n in names]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise HeaderError(f"{index} lists {len(missing)} missing file(s), e.g. {missing[0]}")
    elif (folder / SINGLE_FILE).is_file():
        # NOTE: Mistral repos also ship consolidated.safetensors (the same weights, Mistral's own
        # names); transformers and huggingface_hub read model.safetensors only.
        files = [folder / SINGLE_FILE]
    else:
        files = sorted(folder.glob("*.safetensors"))
    if len(files) > MAX_FILES:
        raise HeaderError(f"{folder} has {len(files)} safetensors files; at most {MAX_FILES} are read")
    return files


def read_header(path: Path) -> dict:
    """The JSON header of one safetensors file (``__metadata__`` included)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
            if len(head) != 8:
                raise HeaderError(f"{path.name}: too short to be a safetensors file")
            (length,) = struct.unpack("<Q", head)
            if length > MAX_HEADER_BYTES:
                raise HeaderError(f"{path.name}: header of {length:,} bytes, more than a checkpoint has")
            raw = fh.read(length)
    except OSError as exc:
        raise HeaderError(f"cannot read {path}: {exc.strerror}") from None
    if len(raw) != length:
        raise HeaderError(f"{path.name}: truncated header")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise HeaderError(f"{path.name}: the header is not JSON; is it a safetensors file?") from None
    if not isinstance(header, dict):
        raise HeaderError(f"{path.name}: the header is not a JSON object")
    return header


def header_tensors(path: Path) -> Iterator[StoredTensor]:
    """Every tensor of one file, checked: a dtype string, a shape of integers, byte offsets."""
    for name, info in read_header(path).items():
        if name == "__metadata__":
            continue
        try:
            dtype = info["dtype"]
            shape = tuple(info["shape"])
            begin, end = info["data_offsets"]
            if not isinstance(dtype, str) or not all(isinstance(d, int) and d >= 0 for d in shape):
                raise TypeError
            if not (isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end):
                raise TypeError
        except (KeyError, TypeError, ValueError):
            raise HeaderError(f"{path.name}: tensor '{name:.80}' has a malformed entry") from None
        yield StoredTensor(str(name), dtype, shape, end - begin)


def folder_groups(folder: Path) -> tuple[tuple[StoredGroup, ...], str] | None:
    """Stored groups of every tensor in ``folder``'s safetensors files, with a description; None without any."""
    files = safetensors_files(folder)
    if not files:
        return None
    tensors = [t for f in files for t in header_tensors(f)]
    if not tensors:
        return None
    detail = f"{len(tensors):,} tensors in {len(files)} file{'s' if len(files) > 1 else ''} under {folder}"
    return group_tensors(tensors), detail
