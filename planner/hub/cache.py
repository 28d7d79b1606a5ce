"""The on-disk summary cache, next to the HF cache, so a repeat call needs no header requests.

The HF cache keeps ``config.json`` but not what the planner learned from the
safetensors headers and the file list; that summary is a small JSON file under
``<HF_HUB_CACHE>/.vram-planner/`` keyed by repo and commit sha, plus a ref file per
branch or tag name. Everything here is best effort: a missing, stale or corrupt
entry reads as no entry.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from planner.hub.quantization import as_bits, as_group_size
from planner.hub.results import GGUFVariant, HubModel, PreQuantization, SafetensorsSummary, TensorEntry
from planner.model.inventory.groups import groups_from_json, groups_to_json

logger = logging.getLogger(__name__)

_CACHE_FOLDER = ".vram-planner"
_CACHE_FORMAT = 1


@dataclass(frozen=True)
class CacheEntry:
    """What the summary cache keeps for one commit (the config itself stays in the HF cache)."""

    has_config: bool
    safetensors: SafetensorsSummary | None
    gguf: tuple[GGUFVariant, ...]


class SummaryStore:
    """``<cache>/.vram-planner/models--org--name/{refs/<rev>, <sha>.json}``; best effort."""

    def __init__(self, cache: Path, repo_id: str) -> None:
        self.root = cache / _CACHE_FOLDER / ("models--" + repo_id.replace("/", "--"))

    def read_ref(self, rev: str) -> str | None:
        try:
            sha = (self.root / "refs" / quote(rev, safe="")).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return sha if sha and len(sha) <= 255 else None

    def load(self, sha: str) -> CacheEntry | None:
        path = self.root / f"{quote(sha, safe='')}.json"
        try:
            if path.stat().st_size > 64 * 1024 * 1024:
                return None
            raw = json.loads(path.read_text(encoding="utf-8"))
            if raw.get("format") != _CACHE_FORMAT or raw.get("sha") != sha:
                return None
            st = raw.get("safetensors")
            return CacheEntry(
                has_config=bool(raw["has_config"]),
                safetensors=_summary_from_json(st) if st is not None else None,
                gguf=tuple(_variant_from_json(v) for v in raw.get("gguf", [])),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def save(self, rev: str, model: HubModel) -> None:
        payload = {
            "format": _CACHE_FORMAT,
            "repo_id": model.repo_id,
            "sha": model.sha,
            "has_config": model.config is not None,
            "safetensors": _summary_to_json(model.safetensors) if model.safetensors else None,
            "gguf": [_variant_to_json(v) for v in model.gguf],
        }
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            _atomic_write(self.root / f"{quote(model.sha, safe='')}.json", json.dumps(payload))
            if rev != model.sha:
                (self.root / "refs").mkdir(exist_ok=True)
                _atomic_write(self.root / "refs" / quote(rev, safe=""), model.sha)
        except OSError as exc:
            logger.debug("Could not cache the summary of %s: %s", model.repo_id, exc.strerror)


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _quant_to_json(q: PreQuantization | None) -> dict[str, Any] | None:
    if q is None:
        return None
    return {
        "method": q.method,
        "bits": q.bits,
        "group_size": q.group_size,
        "source": q.source,
        "evidence": list(q.evidence),
        "config": q.config,
    }


def _quant_from_json(raw: Any) -> PreQuantization | None:
    if raw is None:
        return None
    return PreQuantization(
        method=str(raw["method"]),
        bits=as_bits(raw.get("bits")),
        group_size=as_group_size(raw.get("group_size")),
        source=str(raw.get("source", "tensors")),
        evidence=tuple(str(e) for e in raw.get("evidence", [])),
        config=raw.get("config") if isinstance(raw.get("config"), dict) else None,
    )


def _summary_to_json(s: SafetensorsSummary) -> dict[str, Any]:
    return {
        "parameters": s.parameters,
        "total": s.total,
        "bytes_by_dtype": s.bytes_by_dtype,
        "total_bytes": s.total_bytes,
        "tensor_count": s.tensor_count,
        "sharded": s.sharded,
        "files": list(s.files),
        "tensors": [[t.name, t.dtype, list(t.shape)] for t in s.tensors],
        "quantization": _quant_to_json(s.quantization),
        "groups": groups_to_json(s.groups),
    }


def _summary_from_json(raw: Mapping[str, Any]) -> SafetensorsSummary:
    return SafetensorsSummary(
        parameters={str(k): int(v) for k, v in raw["parameters"].items()},
        total=int(raw["total"]),
        bytes_by_dtype={str(k): int(v) for k, v in raw["bytes_by_dtype"].items()},
        total_bytes=int(raw["total_bytes"]),
        tensor_count=int(raw["tensor_count"]),
        sharded=bool(raw["sharded"]),
        files=tuple(str(f) for f in raw["files"]),
        tensors=tuple(TensorEntry(str(n), str(d), tuple(int(x) for x in s)) for n, d, s in raw["tensors"]),
        quantization=_quant_from_json(raw.get("quantization")),
        groups=groups_from_json(raw.get("groups", [])),
    )


def _variant_to_json(v: GGUFVariant) -> dict[str, Any]:
    return {
        "name": v.name,
        "quant": v.quant,
        "files": list(v.files),
        "size_bytes": v.size_bytes,
        "expected_shards": v.expected_shards,
        "is_projector": v.is_projector,
    }


def _variant_from_json(raw: Mapping[str, Any]) -> GGUFVariant:
    quant = raw.get("quant")
    return GGUFVariant(
        name=str(raw["name"]),
        quant=str(quant) if quant is not None else None,
        files=tuple(str(f) for f in raw["files"]),
        size_bytes=int(raw["size_bytes"]),
        expected_shards=int(raw.get("expected_shards", 1)),
        is_projector=bool(raw.get("is_projector", False)),
    )
