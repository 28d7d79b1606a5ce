"""planner.hub.errors through the client: every Hub failure becomes a planner error, and the token never shows."""

from __future__ import annotations

import logging
import time
import traceback

import pytest

from planner.errors import (
    ConfigError,
    HubError,
    HubGatedError,
    HubNotFoundError,
    HubOfflineError,
    HubRateLimitError,
    HubTimeoutError,
    PlannerError,
)
from planner.hub import fetch_config, fetch_model_info
from tests.planner.hub._fake_repos import GPTQ, SENTINEL, TINY, repo_requests

ERROR_CASES = [
    ("fake-org/missing", HubNotFoundError, ["not found on the Hub", "private", "HF_TOKEN"]),
    ("fake-org/gated", HubGatedError, ["gated", "accept the license", "HF_TOKEN"]),
    ("fake-org/rate-limited", HubRateLimitError, ["rate-limiting", "retry in 42 s"]),
    ("fake-org/server-error", HubError, ["HTTP 500", "try again later"]),
    ("fake-org/bad-token", HubError, ["invalid or expired", "HF_TOKEN"]),
]


@pytest.mark.parametrize("fetch", [fetch_config, fetch_model_info])
@pytest.mark.parametrize(("repo_id", "error", "phrases"), ERROR_CASES)
def test_hub_errors_map_to_planner_errors(hub, fetch, repo_id, error, phrases):
    with pytest.raises(PlannerError) as info:
        fetch(repo_id)
    exc = info.value
    assert type(exc) is error
    for phrase in phrases:
        assert phrase in str(exc)
    # Nothing from huggingface_hub or httpx rides along.
    assert exc.__cause__ is None and exc.__context__ is None
    if error is HubRateLimitError:
        assert exc.retry_after == 42


@pytest.mark.parametrize("fetch", [fetch_config, fetch_model_info])
def test_no_config_is_not_found(hub, fetch):
    with pytest.raises(HubNotFoundError, match=r"no config\.json"):
        fetch("fake-org/no-config")


def test_adapter_repo_gets_a_hint(hub):
    with pytest.raises(HubNotFoundError, match="adapter"):
        fetch_model_info("fake-org/adapter")


@pytest.mark.parametrize("fetch", [fetch_config, fetch_model_info])
def test_unknown_revision_is_not_found(hub, fetch):
    with pytest.raises(HubNotFoundError, match="revision 'v9'"):
        fetch(TINY, revision="v9")


@pytest.mark.parametrize("fetch", [fetch_config, fetch_model_info])
def test_slow_hub_times_out_quickly(hub, fetch):
    start = time.monotonic()
    with pytest.raises(HubTimeoutError, match="did not answer in time") as info:
        fetch("fake-org/slow", timeout=0.3)
    assert time.monotonic() - start < 2.5
    assert info.value.__context__ is None


@pytest.mark.parametrize("fetch", [fetch_config, fetch_model_info])
def test_invalid_config_is_a_config_error(hub, fetch):
    with pytest.raises(ConfigError, match="not valid JSON"):
        fetch("fake-org/bad-config")


# --------------------------------------------------------------------------- the token


def test_token_from_env_is_sent_but_never_shown(hub, monkeypatch, caplog, capsys):
    monkeypatch.setenv("HF_TOKEN", SENTINEL)
    caplog.set_level(logging.DEBUG)
    fetch_model_info(TINY)
    sent = repo_requests(hub, TINY)
    assert sent and all(r.headers.get("authorization") == f"Bearer {SENTINEL}" for r in sent)
    assert not any(SENTINEL in r.path for r in hub.requests)

    failures = []
    for repo_id, _, _ in [*ERROR_CASES, ("fake-org/slow", None, None), ("fake-org/no-config", None, None)]:
        for fetch in (fetch_config, fetch_model_info):
            with pytest.raises(PlannerError) as info:
                fetch(repo_id, timeout=0.3)
            failures.append(info.value)
    hub.stop()
    with pytest.raises(HubOfflineError) as info:
        fetch_config(GPTQ, timeout=1)
    failures.append(info.value)

    for exc in failures:
        shown = "".join(traceback.format_exception(exc)) + repr(exc) + str(exc.args)
        assert SENTINEL not in shown
    assert SENTINEL not in caplog.text
    out, err = capsys.readouterr()
    assert SENTINEL not in out and SENTINEL not in err
