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
import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from planner.model.inventory.groups import StoredGroup, groups_from_json, groups_to_json

logger = logging.getLogger(__name__)

CACHE_ENV = "VRAM_PLANNER_CACHE_DIR"
#: Bump when the entry layout or the way inventories are built changes.
CACHE_FORMAT = 1
#: Entries kept; one is a few KiB to a few hundred KiB.
MAX_ENTRIES = 512
#: An entry larger than this is ignored (a corrupt or foreign file).
MAX_ENTRY_BYTES = 32 * 1024 * 1024


def cache_dir() -> Path:
    """``<cache root>/inventory``, read at call time so tests can redirect it."""
    root = os.environ.get(CACHE_ENV)
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = str(Path(xdg) / "vram-planner") if xdg else str(Path("~/.cache/vram-planner").expanduser())
    return Path(root) / "inventory"


def config_key(config: Mapping[str, Any], version: str) -> str:
    """SHA-256 of the config (sorted keys, no whitespace) and the builder's version."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{CACHE_FORMAT}\n{version}\n{text}".encode()).hexdigest()


def load(key: str) -> tuple[StoredGroup, ...] | None:
    """The cached groups for ``key``, or None (missing, corrupt, wrong format)."""
    path = cache_dir() / f"{key}.json"
    try:
        if path.stat().st_size > MAX_ENTRY_BYTES:
            return None
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("format") != CACHE_FORMAT or raw.get("key") != key:
            return None
        groups = groups_from_json(raw["groups"])
        os.utime(path)  # most recently used: evicted last
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return groups or None


def save(key: str, groups: tuple[StoredGroup, ...], source: str) -> None:
    """Write the entry atomically, then trim the folder to :data:`MAX_ENTRIES`."""
    folder = cache_dir()
    payload = {"format": CACHE_FORMAT, "key": key, "source": source, "groups": groups_to_json(groups)}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(payload, fh, separators=(",", ":"))
            Path(tmp).replace(folder / f"{key}.json")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _trim(folder)
    except OSError as exc:
        logger.debug("Could not cache the inventory %s: %s", key, exc.strerror)


def _trim(folder: Path) -> None:
    entries = []
    for path in folder.glob("*.json"):
        try:
            entries.append((path.stat().st_mtime, path))
        except OSError:
            continue
    if len(entries) <= MAX_ENTRIES:
        return
    entries.sort()
    for _, path in entries[: len(entries) - MAX_ENTRIES]:
        path.unlink(missing_ok=True)
