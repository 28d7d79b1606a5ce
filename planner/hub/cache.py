"""The on-disk summary cache, next to the HF cache, so a repeat call needs no header requests.

The HF cache keeps ``config.json`` but not what the planner learned from the
safetensors headers and the file list; that summary is a small JSON file under
``<HF_HUB_CACHE>/.vram-planner/`` keyed by repo and commit sha, plus a ref file per
branch or tag name. Everything here is best effort: a missing, stale or corrupt
entry reads as no entry.

The cache is bounded (a hosted page fetches whatever ids its visitors type): every repo the
planner reads gets a ``used`` stamp in its folder (:func:`touch`), and :func:`prune` evicts the
least recently used repos past an entry limit or a byte limit, with their ``config.json`` in the
HF cache when that repo holds only files the planner fetches (never a user's downloaded weights).
Limits: ``VRAM_PLANNER_HUB_CACHE_REPOS`` (default 500) and ``VRAM_PLANNER_HUB_CACHE_MB`` (256).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
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
_USED = "used"

#: Repos kept in the planner's cache (each a few KiB to a few MiB).
DEFAULT_MAX_REPOS = 500
#: Bytes kept in all: summaries plus the planner's own files in the HF cache.
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
#: Files of the HF cache the planner itself fetches; a repo folder holding anything else (or any
#: file this large, such as an unfinished weights download) belongs to someone else and stays.
PLANNER_FILES = frozenset({"config.json", "model.safetensors.index.json"})
_PLANNER_FILE_MAX = 64 * 1024 * 1024


@dataclass(frozen=True)
class CacheEntry:
    """What the summary cache keeps for one commit (the config itself stays in the HF cache)."""

    has_config: bool
    safetensors: SafetensorsSummary | None
    gguf: tuple[GGUFVariant, ...]


class SummaryStore:
    """``<cache>/.vram-planner/models--org--name/{refs/<rev>, <sha>.json}``; best effort."""

    def __init__(self, cache: Path, repo_id: str) -> None:
        self.cache = cache
        self.root = cache / _CACHE_FOLDER / _folder_name(repo_id)

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
            _stamp(self.root)
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
        _stamp(self.root)
        prune(self.cache)


def _folder_name(repo_id: str) -> str:
    """The HF cache's folder name for a model repo (``models--org--name``)."""
    return "models--" + repo_id.replace("/", "--")


def _stamp(root: Path) -> bool:
    """Mark the repo folder as used now; True when the folder is new (the cache grew)."""
    marker = root / _USED
    try:
        existed = marker.exists()
        root.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:
        return False
    return not existed


def touch(cache: Path, repo_id: str) -> None:
    """Record a use of ``repo_id``; when it is new to the cache, prune the cache to its limits."""
    if _stamp(cache / _CACHE_FOLDER / _folder_name(repo_id)):
        prune(cache)


def _limit(name: str, default: int, scale: int = 1) -> int:
    raw = os.environ.get(name, "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw) * scale
    return default


@dataclass(frozen=True)
class _Entry:
    summary: Path  # .vram-planner/models--org--name
    hf_repo: Path | None  # models--org--name in the HF cache, when only the planner's files are in it
    used: float
    size: int


def _tree_size(root: Path) -> int:
    total = 0
    for path in root.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink():
                total += path.stat().st_size
        except OSError:
            continue
    return total


def _planner_only(repo: Path) -> bool:
    """Whether an HF cache repo folder holds only what the planner fetches (small configs and indexes)."""
    try:
        for path in (repo / "snapshots").rglob("*"):
            if (path.is_symlink() or path.is_file()) and path.name not in PLANNER_FILES:
                return False
        for path in repo.rglob("*"):
            if path.is_file() and not path.is_symlink() and path.stat().st_size > _PLANNER_FILE_MAX:
                return False
    except OSError:
        return False
    return True


def _entries(cache: Path) -> list[_Entry]:
    root = cache / _CACHE_FOLDER
    try:
        folders = [p for p in root.iterdir() if p.is_dir() and p.name.startswith("models--")]
    except OSError:
        return []
    entries = []
    for folder in folders:
        try:
            used = max((p.stat().st_mtime for p in folder.rglob("*") if p.is_file()), default=0.0)
        except OSError:
            used = 0.0
        hf_repo = cache / folder.name
        hf = hf_repo if hf_repo.is_dir() and _planner_only(hf_repo) else None
        size = _tree_size(folder) + (_tree_size(hf) if hf is not None else 0)
        entries.append(_Entry(folder, hf, used, size))
    return entries


def prune(cache: Path, max_repos: int | None = None, max_bytes: int | None = None) -> list[str]:
    """Evict the least recently used repos until at most ``max_repos`` and ``max_bytes`` remain.

    Returns the evicted folder names. Best effort: files another process removed are skipped.
    """
    max_repos = (
        max_repos if max_repos is not None else _limit("VRAM_PLANNER_HUB_CACHE_REPOS", DEFAULT_MAX_REPOS)
    )
    max_bytes = (
        max_bytes
        if max_bytes is not None
        else _limit("VRAM_PLANNER_HUB_CACHE_MB", DEFAULT_MAX_BYTES, 1 << 20)
    )
    entries = sorted(_entries(cache), key=lambda e: e.used)
    total = sum(e.size for e in entries)
    evicted = []
    while entries and (len(entries) > max_repos or total > max_bytes):
        entry = entries.pop(0)
        total -= entry.size
        shutil.rmtree(entry.summary, ignore_errors=True)
        if entry.hf_repo is not None:
            shutil.rmtree(entry.hf_repo, ignore_errors=True)
        evicted.append(entry.summary.name)
    if evicted:
        logger.info("Hub cache: evicted %d repo(s) past the limits", len(evicted))
    return evicted


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
