"""The inventory cache on disk: one small JSON file per config, so a model is built once.

Entries live under ``$VRAM_PLANNER_CACHE_DIR/inventory/`` (default
``$XDG_CACHE_HOME/vram-planner`` or ``~/.cache/vram-planner``), named by the SHA-256 of
the config (canonical JSON) and the transformers version that built it. The folder is kept
to :data:`MAX_ENTRIES` files (oldest used first out). Everything is best effort: an entry
that is missing, corrupt or from another format reads as no entry and is written again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from planner.disk_cache import CACHE_ENV, cache_root, read_bytes, touch, trim, write_atomic
from planner.model.inventory.groups import StoredGroup, groups_from_json, groups_to_json

#: Bump when the entry layout or the way inventories are built changes.
CACHE_FORMAT = 1
#: Entries kept; one is a few KiB to a few hundred KiB.
MAX_ENTRIES = 512
#: An entry larger than this is ignored (a corrupt or foreign file).
MAX_ENTRY_BYTES = 32 * 1024 * 1024


def cache_dir() -> Path:
    """``<cache root>/inventory``, read at call time so tests can redirect it."""
    return cache_root() / "inventory"


def config_key(config: Mapping[str, Any], version: str) -> str:
    """SHA-256 of the config (sorted keys, no whitespace) and the builder's version."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{CACHE_FORMAT}\n{version}\n{text}".encode()).hexdigest()


def load(key: str) -> tuple[StoredGroup, ...] | None:
    """The cached groups for ``key``, or None (missing, corrupt, wrong format)."""
    path = cache_dir() / f"{key}.json"
    data = read_bytes(path, MAX_ENTRY_BYTES)
    if data is None:
        return None
    try:
        raw = json.loads(data)
        if raw.get("format") != CACHE_FORMAT or raw.get("key") != key:
            return None
        groups = groups_from_json(raw["groups"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    touch(path)  # most recently used: evicted last
    return groups or None


def save(key: str, groups: tuple[StoredGroup, ...], source: str) -> None:
    """Write the entry atomically, then trim the folder to :data:`MAX_ENTRIES`."""
    folder = cache_dir()
    payload = {"format": CACHE_FORMAT, "key": key, "source": source, "groups": groups_to_json(groups)}
    if write_atomic(folder / f"{key}.json", json.dumps(payload, separators=(",", ":")).encode()):
        trim(folder, "*.json", MAX_ENTRIES)


__all__ = ["CACHE_ENV", "cache_dir", "config_key", "load", "save"]
