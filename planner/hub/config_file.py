"""``config.json`` through the HF cache: downloaded once, then read from disk, offline too.

:func:`get_hf_file_metadata` (one ``HEAD``, short timeout, no retries) gates
:func:`hf_hub_download`: after a failed ``HEAD`` the download retries with a 60 s
timeout and exponential back-off (and sleeps through a 429's reset time), which
would freeze a page for minutes. The download runs under the config's own byte cap
(:func:`planner.hub.limits.hub_limits`), so a file served without ``Content-Length`` stops at
the limit instead of being downloaded whole.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from huggingface_hub import (
    constants,
    get_hf_file_metadata,
    hf_hub_download,
    hf_hub_url,
    try_to_load_from_cache,
)

from planner.errors import ConfigError, HubError, HubNotFoundError
from planner.hub.errors import cache_may_answer, guarded, offline_error
from planner.hub.limits import hub_limits
from planner.model.config import MAX_CONFIG_BYTES, parse_config_bytes

logger = logging.getLogger(__name__)

CONFIG_NAME = "config.json"


def config_path(repo_id: str, rev: str, cache: Path, *, timeout: float, endpoint: str | None) -> Path:
    """Local path of ``config.json``: downloaded into the HF cache, or the cached copy."""
    if constants.is_offline_mode():
        return _cached_config_or_raise(repo_id, rev, cache, offline_error(repo_id, rev, offline_mode=True))
    url = hf_hub_url(repo_id, CONFIG_NAME, revision=rev, endpoint=endpoint)
    try:
        with hub_limits(max_bytes=MAX_CONFIG_BYTES):
            return _download(repo_id, rev, cache, url, timeout=timeout, endpoint=endpoint)
    except HubError as exc:
        if cache_may_answer(exc):
            return _cached_config_or_raise(repo_id, rev, cache, exc)
        raise


def _download(repo_id: str, rev: str, cache: Path, url: str, *, timeout: float, endpoint: str | None) -> Path:
    meta = guarded(
        lambda: get_hf_file_metadata(url, timeout=timeout, endpoint=endpoint),
        repo_id,
        rev,
        CONFIG_NAME,
    )
    if meta.size is not None and meta.size > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"config.json of '{repo_id}' is {meta.size:,} bytes; the limit is {MAX_CONFIG_BYTES:,} bytes"
        )
    local = guarded(
        lambda: hf_hub_download(
            repo_id,
            CONFIG_NAME,
            revision=rev,
            cache_dir=str(cache),
            etag_timeout=timeout,
            endpoint=endpoint,
        ),
        repo_id,
        rev,
        CONFIG_NAME,
    )
    return Path(local)


def _cached_config_or_raise(repo_id: str, rev: str, cache: Path, error: HubError) -> Path:
    """The cached ``config.json`` of ``rev``; else :class:`HubNotFoundError` if the cache
    knows the file is absent, else ``error`` (the Hub's failure)."""
    found = try_to_load_from_cache(repo_id, CONFIG_NAME, cache_dir=str(cache), revision=rev)
    if isinstance(found, str):
        logger.info("Answering config.json of %s@%s from the local cache", repo_id, rev)
        return Path(found)
    if found is not None:  # the Hub said earlier that this commit has no config.json
        raise HubNotFoundError(f"'{repo_id}' (revision '{rev}') has no config.json")
    raise error


def read_config(path: Path) -> dict[str, Any]:
    """Parse a local ``config.json`` with the planner's size and nesting limits."""
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise HubError(f"could not read the cached config.json ({exc.strerror or 'I/O error'})") from None
    return parse_config_bytes(data)
