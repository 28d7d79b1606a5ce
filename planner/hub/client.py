"""The two Hub requests the planner makes: :func:`fetch_config` and :func:`fetch_model_info`.

Online, they ask the Hub and keep what they learn in the HF cache and the summary
cache; offline (``HF_HUB_OFFLINE``) or when the Hub is unreachable, they answer from
those caches or raise :class:`HubOfflineError`. Each call, all its requests together, runs
under an overall deadline and a byte cap per response (:mod:`planner.hub.limits`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from huggingface_hub import HfApi, constants, try_to_load_from_cache

from planner.errors import HubNotFoundError, PlannerError
from planner.hub.cache import SummaryStore, touch
from planner.hub.config_file import CONFIG_NAME, config_path, read_config
from planner.hub.errors import cache_may_answer, guarded, offline_error
from planner.hub.gguf_files import gguf_variants
from planner.hub.ids import check_repo_id, check_revision, is_commit_sha
from planner.hub.limits import DEFAULT_DEADLINE_S, hub_limits
from planner.hub.quantization import merge_quantization, quantization_from_config
from planner.hub.results import HubModel
from planner.hub.safetensors import SAFETENSORS_FILES, fetch_safetensors

logger = logging.getLogger(__name__)

#: Seconds to wait for the Hub on each request: config and headers are a few KiB.
DEFAULT_TIMEOUT_S = 5.0


def fetch_config(
    repo_id: str,
    *,
    revision: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    endpoint: str | None = None,
    deadline: float = DEFAULT_DEADLINE_S,
) -> dict[str, Any]:
    """``config.json`` of a Hub repo as a dict, parsed with the planner's size/nesting limits.

    Downloads through the HF cache; offline (``HF_HUB_OFFLINE``) or when the Hub
    cannot be reached, answers from the cached copy. ``endpoint`` defaults to
    ``HF_ENDPOINT``; ``timeout`` bounds each request and ``deadline`` the whole call, in seconds
    (past it: :class:`HubTimeoutError`). Raises :class:`ModelNotFoundError`
    for a malformed id, a :class:`HubError` subclass for Hub trouble and
    :class:`ConfigError` for a file that is not a usable config.
    """
    repo_id = check_repo_id(repo_id)
    rev = check_revision(revision)
    cache = _cache_dir()
    with hub_limits(deadline):
        path = config_path(repo_id, rev, cache, timeout=timeout, endpoint=endpoint)
    config = read_config(path)
    touch(cache, repo_id)
    return config


def fetch_model_info(
    repo_id: str,
    *,
    revision: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    endpoint: str | None = None,
    deadline: float = DEFAULT_DEADLINE_S,
) -> HubModel:
    """Config, safetensors summary, pre-quantization and GGUF files of a Hub repo.

    Online: one ``model_info`` call (sha and file sizes), the config through the HF
    cache, and the safetensors headers unless this commit's summary is already
    cached. Offline or unreachable: the cached answer for this revision, else
    :class:`HubOfflineError` (or :class:`HubTimeoutError` after a timeout or past ``deadline``
    seconds for the whole call).
    """
    with hub_limits(deadline):
        return _fetch_model_info(repo_id, revision, timeout, endpoint)


def _fetch_model_info(repo_id: str, revision: str | None, timeout: float, endpoint: str | None) -> HubModel:
    repo_id = check_repo_id(repo_id)
    rev = check_revision(revision)
    cache = _cache_dir()
    store = SummaryStore(cache, repo_id)

    if is_commit_sha(rev):  # a commit never changes: a cached answer is final
        cached = _model_from_cache(store, repo_id, rev, cache)
        if cached is not None:
            return cached
    if constants.is_offline_mode():
        return _cached_or_raise(store, repo_id, rev, cache, offline_error(repo_id, rev, offline_mode=True))

    api = HfApi(endpoint=endpoint)
    try:
        info = guarded(
            lambda: api.model_info(repo_id, revision=revision, timeout=timeout, files_metadata=True),
            repo_id,
            rev,
            "model info",
        )
    except PlannerError as exc:
        if cache_may_answer(exc):
            return _cached_or_raise(store, repo_id, rev, cache, exc)
        raise

    sha = info.sha if isinstance(info.sha, str) and info.sha else rev
    files: dict[str, int] | None = None
    if info.siblings is not None:
        files = {}
        for sibling in info.siblings:
            size = sibling.lfs.size if sibling.lfs is not None else sibling.size
            files[sibling.rfilename] = int(size) if isinstance(size, int) else 0
    gguf = gguf_variants((files or {}).items())
    has_config = files is None or CONFIG_NAME in files
    if not has_config and not gguf:
        hint = (
            " It looks like an adapter (adapter_config.json): plan its base model instead."
            if "adapter_config.json" in files
            else ""
        )
        raise HubNotFoundError(f"'{repo_id}' has no config.json and no GGUF files on the Hub.{hint}")

    config: dict[str, Any] | None = None
    if has_config:
        cached_path = try_to_load_from_cache(repo_id, CONFIG_NAME, cache_dir=str(cache), revision=sha)
        if isinstance(cached_path, str):
            path = Path(cached_path)
        else:
            path = config_path(repo_id, rev, cache, timeout=timeout, endpoint=endpoint)
        config = read_config(path)

    entry = store.load(sha)
    if entry is not None:
        summary = entry.safetensors
    elif files is None or any(name in files for name in SAFETENSORS_FILES):
        summary = fetch_safetensors(api, repo_id, sha, rev, timeout, files)
    else:
        summary = None

    model = HubModel(
        repo_id=repo_id,
        revision=rev,
        sha=sha,
        config=config,
        safetensors=summary,
        gguf=gguf,
        quantization=merge_quantization(
            quantization_from_config(config), summary.quantization if summary else None
        ),
    )
    store.save(rev, model)
    return model


def _cache_dir() -> Path:
    """The HF hub cache, read at call time (``HF_HUB_CACHE``/``HF_HOME``; tests patch the constant).

    There is deliberately no per-call ``cache_dir``: ``get_safetensors_metadata``
    downloads a sharded index into the default cache and takes no such argument.
    """
    return Path(constants.HF_HUB_CACHE).expanduser()


def _model_from_cache(store: SummaryStore, repo_id: str, rev: str, cache: Path) -> HubModel | None:
    """The cached answer for ``rev`` (summary plus cached config), or None if any part is missing."""
    sha = rev if is_commit_sha(rev) else store.read_ref(rev)
    if sha is None:
        return None
    entry = store.load(sha)
    if entry is None:
        return None
    config = None
    if entry.has_config:
        found = try_to_load_from_cache(repo_id, CONFIG_NAME, cache_dir=str(cache), revision=sha)
        if not isinstance(found, str):
            return None
        try:
            config = read_config(Path(found))
        except PlannerError:
            return None
    return HubModel(
        repo_id=repo_id,
        revision=rev,
        sha=sha,
        config=config,
        safetensors=entry.safetensors,
        gguf=entry.gguf,
        quantization=merge_quantization(
            quantization_from_config(config), entry.safetensors.quantization if entry.safetensors else None
        ),
        from_cache=True,
    )


def _cached_or_raise(
    store: SummaryStore, repo_id: str, rev: str, cache: Path, error: PlannerError
) -> HubModel:
    cached = _model_from_cache(store, repo_id, rev, cache)
    if cached is None:
        raise error
    logger.info("Answering model info of %s@%s from the local cache", repo_id, rev)
    return cached
