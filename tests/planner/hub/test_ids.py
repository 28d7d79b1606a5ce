"""planner.hub.ids: malformed repo ids and revisions fail before any request."""

from __future__ import annotations

import pytest

from planner.errors import ModelNotFoundError
from planner.hub import check_repo_id, fetch_config, fetch_model_info
from tests.planner.hub._fake_repos import TINY, repo_requests


@pytest.mark.parametrize(
    "repo_id",
    [
        "",
        "gpt2",
        "a/b/c",
        "../etc/passwd",
        "org/..",
        "org/na--me",
        "org/name.git",
        "org/-name",
        "org/ name",
        "https://huggingface.co/org/name",
        "huggingface.co/org/name",
        "org/name?x=1",
        "x" * 200 + "/y",
        None,
        42,
    ],
)
def test_invalid_repo_ids_fail_before_any_request(hub, repo_id):
    for fetch in (fetch_config, fetch_model_info):
        with pytest.raises(ModelNotFoundError):
            fetch(repo_id)
    assert repo_requests(hub) == []


def test_check_repo_id_strips_and_accepts_real_ids():
    assert check_repo_id("  meta-llama/Llama-3.1-8B-Instruct ") == "meta-llama/Llama-3.1-8B-Instruct"
    assert check_repo_id("Qwen/Qwen2.5-0.5B") == "Qwen/Qwen2.5-0.5B"
    with pytest.raises(ModelNotFoundError, match="URL"):
        check_repo_id("https://huggingface.co/Qwen/Qwen2.5-0.5B")


@pytest.mark.parametrize("revision", ["", " ", "main branch", "a..b", "x\n", "r" * 300])
def test_invalid_revisions(hub, revision):
    with pytest.raises(ModelNotFoundError):
        fetch_model_info(TINY, revision=revision)
    assert repo_requests(hub) == []
