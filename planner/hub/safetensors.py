"""Safetensors headers reduced to a summary: counts and bytes by dtype, and every tensor.

The headers (a few KiB per shard, read with HTTP ``Range`` requests by
:meth:`HfApi.parse_safetensors_file_metadata`) reveal the stored dtypes and shapes, hence
a pre-quantized checkpoint, without downloading any weight.

A sharded checkpoint's headers are read here, not by :meth:`HfApi.get_safetensors_metadata`:
its worker threads would not inherit the call's deadline and byte cap (a ``ContextVar``,
:mod:`planner.hub.limits`), so each worker here runs in a copy of the caller's context.
"""

from __future__ import annotations

import contextvars
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from huggingface_hub import HfApi, constants
from huggingface_hub.utils import SafetensorsRepoMetadata

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


#: Shards read at once (the Hub answers each header request in well under a second).
SHARD_WORKERS = 8


def fetch_safetensors(
    api: HfApi, repo_id: str, sha: str, rev: str, timeout: float, files: dict[str, int] | None = None
) -> SafetensorsSummary | None:
    """Summary of the safetensors headers at commit ``sha``, or None for a repo without them.

    ``files`` (the repo's listing, when known) tells a sharded checkpoint from a single file.
    """
    sharded = (
        files is not None
        and constants.SAFETENSORS_INDEX_FILE in files
        and constants.SAFETENSORS_SINGLE_FILE not in files
    )
    try:
        metadata = guarded(
            (lambda: _sharded_metadata(api, repo_id, sha, timeout))
            if sharded
            else (lambda: api.get_safetensors_metadata(repo_id, revision=sha, timeout=timeout)),
            repo_id,
            rev,
            "safetensors headers",
        )
    except NoSafetensors:
        return None
    return summarize_safetensors(metadata)


def _sharded_metadata(api: HfApi, repo_id: str, sha: str, timeout: float) -> SafetensorsRepoMetadata:
    """What ``get_safetensors_metadata`` returns for a sharded repo, each shard read in the caller's context."""
    index_path = api.hf_hub_download(
        repo_id, constants.SAFETENSORS_INDEX_FILE, revision=sha, etag_timeout=timeout
    )
    try:
        index = json.loads(Path(index_path).read_bytes())
        weight_map = index["weight_map"]
        if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
            raise TypeError("weight_map is not a mapping of names to files")
    except (OSError, ValueError, KeyError, TypeError):
        raise NoSafetensors("safetensors index") from None
    shards = sorted(set(weight_map.values()))

    def read(shard: str) -> Any:
        return api.parse_safetensors_file_metadata(repo_id, shard, revision=sha, timeout=timeout)

    with ThreadPoolExecutor(max_workers=max(1, min(SHARD_WORKERS, len(shards)))) as pool:
        futures = {shard: pool.submit(contextvars.copy_context().run, read, shard) for shard in shards}
        files_metadata = {shard: future.result() for shard, future in futures.items()}
    return SafetensorsRepoMetadata(
        metadata=index.get("metadata") if isinstance(index.get("metadata"), dict) else None,
        sharded=True,
        weight_map=weight_map,
        files_metadata=files_metadata,
    )
