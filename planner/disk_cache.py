"""The planner's cache folder on disk and the best-effort file operations every cache there shares.

The root is ``$VRAM_PLANNER_CACHE_DIR``, else ``$XDG_CACHE_HOME/vram-planner``, else
``~/.cache/vram-planner`` (the XDG base directory default), read at call time so tests can redirect it.
Each cache keeps its own sub-folder (``inventory/``, ``catalog/``). Writes go to a temporary file in
the same folder and are renamed into place (``os.replace`` is atomic on POSIX and Windows), so a reader
sees a whole old file or a whole new one, never a torn one; a folder that cannot be written is no error.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

CACHE_ENV = "VRAM_PLANNER_CACHE_DIR"


def cache_root() -> Path:
    """The planner's cache folder (not created here)."""
    root = os.environ.get(CACHE_ENV)
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = str(Path(xdg) / "vram-planner") if xdg else str(Path("~/.cache/vram-planner").expanduser())
    return Path(root)


def write_atomic(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` through a temporary file and a rename; ``False`` (logged) on any OS error."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            Path(tmp).replace(path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        import logging  # only on a failure: logging costs 10 ms to import

        logging.getLogger(__name__).debug("Could not write the cache file %s: %s", path, exc.strerror)
        return False
    return True


def read_bytes(path: Path, max_bytes: int) -> bytes | None:
    """The bytes of ``path``, or ``None`` when it is missing, unreadable or over ``max_bytes``."""
    try:
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError:
        return None
    return None if len(data) > max_bytes else data


def touch(path: Path) -> None:
    """Mark ``path`` as just used (the trim keeps the most recently used files); errors are ignored."""
    with contextlib.suppress(OSError):
        os.utime(path)


def trim(folder: Path, pattern: str, keep: int) -> None:
    """Delete the least recently used files matching ``pattern`` in ``folder`` beyond ``keep``."""
    entries = []
    for path in folder.glob(pattern):
        try:
            entries.append((path.stat().st_mtime, path))
        except OSError:
            continue
    if len(entries) <= keep:
        return
    entries.sort()
    for _, path in entries[: len(entries) - keep]:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            continue


__all__ = ["CACHE_ENV", "cache_root", "read_bytes", "touch", "trim", "write_atomic"]
