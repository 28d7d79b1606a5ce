"""The planner's Hub cache on disk stays within an entry limit and a byte limit, least recently used out first.

Through the real client and the fake Hub: every repo the planner reads is stamped, a new one prunes
the cache, and only files the planner fetched are ever deleted from the HF cache.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from planner.hub import fetch_config, fetch_model_info
from planner.hub.cache import prune
from tests.planner.hub._fake_repos import FP8, GPTQ, TINY, go_offline


def _planner_repos(cache: Path) -> set[str]:
    return {p.name for p in (cache / ".vram-planner").iterdir() if p.is_dir()}


def _hf_repos(cache: Path) -> set[str]:
    return {p.name for p in cache.iterdir() if p.name.startswith("models--")}


def _age(cache: Path, folder: str, seconds: float) -> None:
    """Make a repo's stamps look ``seconds`` old (mtime resolution would tie fast test calls)."""
    when = time.time() - seconds
    for path in (cache / ".vram-planner" / folder).rglob("*"):
        os.utime(path, (when, when))


def test_the_entry_limit_evicts_the_least_recently_used_repo(hub, tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    monkeypatch.setenv("VRAM_PLANNER_HUB_CACHE_REPOS", "2")
    fetch_config(TINY)
    _age(cache, "models--fake-org--tiny-llama", 300)
    fetch_model_info(GPTQ)
    _age(cache, "models--fake-org--tiny-llama-gptq", 200)
    fetch_config(TINY)  # used again: now the most recent
    assert _planner_repos(cache) == {"models--fake-org--tiny-llama", "models--fake-org--tiny-llama-gptq"}

    fetch_config(FP8)  # a third repo: the least recently used one (GPTQ) goes, with its HF files
    assert _planner_repos(cache) == {"models--fake-org--tiny-llama", "models--fake-org--tiny-fp8"}
    assert "models--fake-org--tiny-llama-gptq" not in _hf_repos(cache)
    assert {"models--fake-org--tiny-llama", "models--fake-org--tiny-fp8"} <= _hf_repos(cache)

    go_offline(monkeypatch)  # the kept ones still answer offline
    assert fetch_config(TINY)["model_type"] == "llama"


def test_the_byte_limit_evicts_until_the_cache_fits(hub, tmp_path):
    cache = tmp_path / "hub"
    fetch_model_info(TINY)
    _age(cache, "models--fake-org--tiny-llama", 300)
    fetch_model_info(GPTQ)
    assert prune(cache, max_repos=10, max_bytes=10**9) == []
    evicted = prune(cache, max_repos=10, max_bytes=1)
    assert evicted == ["models--fake-org--tiny-llama", "models--fake-org--tiny-llama-gptq"]
    assert _planner_repos(cache) == set() and _hf_repos(cache) == set()


def test_a_users_downloaded_weights_are_never_evicted(hub, tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    fetch_config(TINY)
    # The user downloaded the weights of the same repo into the same HF cache.
    repo = cache / "models--fake-org--tiny-llama"
    (repo / "blobs" / "weights").write_bytes(b"\0" * 1024)
    snapshot = next((repo / "snapshots").iterdir())
    (snapshot / "model.safetensors").symlink_to(repo / "blobs" / "weights")
    assert prune(cache, max_repos=0) == ["models--fake-org--tiny-llama"]
    assert (snapshot / "model.safetensors").read_bytes() == b"\0" * 1024  # the HF folder stayed
    assert (snapshot / "config.json").is_file()


def test_a_cache_that_is_not_there_prunes_to_nothing(tmp_path):
    assert prune(tmp_path / "missing", max_repos=0, max_bytes=0) == []
