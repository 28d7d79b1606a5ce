"""Safetensors headers reduced to a summary: counts and bytes by dtype, and every tensor.

The headers (a few KiB per shard, read with HTTP ``Range`` requests by
:meth:`HfApi.get_safetensors_metadata`) reveal the stored dtypes and shapes, hence
a pre-quantized checkpoint, without downloading any weight.
"""

from __future__ import annotations

from typing import Any

from huggingface_hub import HfApi, constants

from planner.hub.errors import NoSafetensors, guarded
from planner.hub.quantization import quantization_from_tensors
from planner.hub.results import SafetensorsSummary, TensorEntry
from planner.model.inventory.groups import StoredTensor, group_tensors

#: Per-tensor entries kept in a summary (counts by dtype are always exact). Dense
#: models have a few hundred tensors; big MoE checkpoints have ~100k, too many to cache.
MAX_TENSORS_KEPT = 10_000

#: Either file in a repo's listing means it has safetensors headers to read.
SAFETENSORS_FILES = (constants.SAFETENSORS_SINGLE_FILE, constants.SAFETENSORS_INDEX_FILE)


def summarize_safetensors(metadata: Any) -> SafetensorsSummary:
    """Reduce a ``huggingface_hub`` ``SafetensorsRepoMetadata`` to a :class:`SafetensorsSummary`."""
    params: dict[str, int] = {}
    nbytes: dict[str, int] = {}
    entries: list[TensorEntry] = []
    stored: list[StoredTensor] = []
    for file_meta in metadata.files_metadata.values():
        for name, info in file_meta.tensors.items():
            dtype = str(info.dtype)
            shape = tuple(int(d) for d in info.shape)
            params[dtype] = params.get(dtype, 0) + int(info.parameter_count)
            begin, end = info.data_offsets
            size = max(int(end) - int(begin), 0)
            nbytes[dtype] = nbytes.get(dtype, 0) + size
            entries.append(TensorEntry(str(name), dtype, shape))
            stored.append(StoredTensor(str(name), dtype, shape, size))
    entries.sort(key=lambda t: t.name)
    return SafetensorsSummary(
        parameters=dict(sorted(params.items())),
        total=sum(params.values()),
        bytes_by_dtype=dict(sorted(nbytes.items())),
        total_bytes=sum(nbytes.values()),
        tensor_count=len(entries),
        sharded=bool(metadata.sharded),
        files=tuple(sorted(metadata.files_metadata)),
        tensors=tuple(entries) if len(entries) <= MAX_TENSORS_KEPT else (),
        quantization=quantization_from_tensors(entries),
        groups=group_tensors(sorted(stored, key=lambda t: t.name)),
    )


def fetch_safetensors(
    api: HfApi, repo_id: str, sha: str, rev: str, timeout: float
) -> SafetensorsSummary | None:
    """Summary of the safetensors headers at commit ``sha``, or None for a repo without them."""
    try:
        metadata = guarded(
            lambda: api.get_safetensors_metadata(repo_id, revision=sha, timeout=timeout),
            repo_id,
            rev,
            "safetensors headers",
        )
    except NoSafetensors:
        return None
    return summarize_safetensors(metadata)
