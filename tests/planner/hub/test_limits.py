"""planner.hub.limits through the real client: hostile Hub servers stop at the deadline and the byte cap.

The fake Hub (tests/fakehub.py) drips bodies one byte at a time, or serves them without
``Content-Length``; huggingface_hub's own client talks to it. Before the limits, a dripping
``config.json`` kept a page waiting for each 5 s read timeout times six attempts, and a config served
without a size was downloaded whole before ``read_config`` refused it.
"""

from __future__ import annotations

import time

import pytest
from huggingface_hub import constants, get_session

from planner.errors import ConfigError, HubError, HubRateLimitError, HubTimeoutError
from planner.hub import fetch_config, fetch_model_info
from planner.hub.limits import DEFAULT_MAX_BYTES, LimitedTransport, current, hub_limits
from planner.model.config import MAX_CONFIG_BYTES
from tests.fakehub import FakeFile
from tests.planner.hub._fake_repos import GPTQ, TINY

HUGE = 200 * 1024 * 1024  # a body the client must never read whole


def _timed(call):
    start = time.monotonic()
    try:
        call()
    except Exception as exc:
        return exc, time.monotonic() - start
    return None, time.monotonic() - start


@pytest.mark.parametrize("fetch", [fetch_config, fetch_model_info])
def test_a_dripping_config_stops_at_the_deadline(hub, fetch):
    hub.repos[TINY].drip["config.json"] = (
        0.05  # ~600 bytes: 30 s in all, each byte well inside a read timeout
    )
    exc, took = _timed(lambda: fetch(TINY, timeout=5, deadline=1.0))
    assert isinstance(exc, HubTimeoutError), exc
    assert "did not answer in time" in str(exc) and "1 s deadline" in str(exc)
    assert exc.__cause__ is None and exc.__context__ is None
    assert took < 2.0


def test_a_dripping_model_listing_stops_at_the_deadline(hub):
    hub.repos[TINY].drip["api"] = 0.05
    exc, took = _timed(lambda: fetch_model_info(TINY, timeout=5, deadline=1.0))
    assert isinstance(exc, HubTimeoutError), exc
    assert took < 2.0


def test_a_dripping_shard_stops_at_the_deadline_in_the_worker_threads(hub):
    # Shards are read by worker threads: they must carry the caller's deadline.
    hub.repos[GPTQ].drip["model-00002-of-00002.safetensors"] = 0.05
    exc, took = _timed(lambda: fetch_model_info(GPTQ, timeout=5, deadline=1.5))
    assert isinstance(exc, HubTimeoutError), exc
    assert took < 2.5


def test_a_silent_server_stops_at_the_deadline_not_after_each_retry(hub):
    hub.repos[TINY].delay = 30.0  # answers nothing: each read would wait the full timeout
    exc, took = _timed(lambda: fetch_config(TINY, timeout=10, deadline=1.0))
    assert isinstance(exc, HubTimeoutError), exc
    assert took < 2.0


def test_a_config_without_a_size_is_refused_at_the_cap_not_downloaded_whole(hub, tmp_path):
    repo = hub.repos[TINY]
    repo.files["config.json"] = FakeFile(HUGE, None, etag="huge")
    repo.no_length.add("config.json")
    for _ in range(2):  # the second attempt resumes the partial file: its bytes count too
        exc, _ = _timed(lambda: fetch_config(TINY))
        assert isinstance(exc, ConfigError), exc
        assert f"larger than the limit of {MAX_CONFIG_BYTES:,} bytes" in str(exc)
    sent = hub.sent.get(f"/{TINY}/resolve/main/config.json", 0)
    assert sent < HUGE // 10  # refused after a few MiB (socket buffers), not 200 MiB
    partial = sum(p.stat().st_size for p in (tmp_path / "hub").rglob("*.incomplete"))
    assert partial <= MAX_CONFIG_BYTES


def test_a_model_listing_over_the_cap_is_refused_with_or_without_a_size(hub):
    repo = hub.repos[TINY]
    repo.files["padding.bin"] = FakeFile(1, None)
    with hub_limits(max_bytes=200):  # the listing of the tiny repo is ~1 KiB
        exc, _ = _timed(lambda: fetch_model_info(TINY))
        assert isinstance(exc, HubError) and "over the 200-byte limit" in str(exc), exc
        repo.no_length.add("api")
        exc, _ = _timed(lambda: fetch_model_info(TINY))
        assert isinstance(exc, HubError) and "over the 200-byte limit" in str(exc), exc


def test_rate_limit_answers_at_once_instead_of_sleeping_until_the_reset(hub):
    hub.repos[TINY].error = {"status": 429, "headers": {"RateLimit": '"api";r=0;t=300'}}
    exc, took = _timed(lambda: fetch_config(TINY))
    assert isinstance(exc, HubRateLimitError) and exc.retry_after == 300
    assert took < 2.0


def test_limits_nest_tighter_and_end_with_the_block():
    assert current() is None
    with hub_limits(10.0) as outer:
        assert outer.max_bytes == DEFAULT_MAX_BYTES
        with hub_limits(60.0, max_bytes=1000) as inner:
            assert inner.deadline == outer.deadline and inner.max_bytes == 1000
        with hub_limits(1.0) as shorter:
            assert shorter.deadline < outer.deadline
        assert current() is outer
    assert current() is None
    with pytest.raises(ValueError, match="positive"), hub_limits(float("nan")):
        pass


def test_the_shared_client_is_wrapped_and_passes_through_outside_a_block(hub):
    with hub_limits():
        pass
    session = get_session()
    assert isinstance(session._transport, LimitedTransport)
    # Outside a block, nothing is limited: huggingface_hub's other users see the plain transport's answer.
    response = session.get(f"{hub.url}/api/models/{TINY}", timeout=5)
    assert response.status_code == 200 and response.json()["sha"] == "1" * 40
    assert hub.url == constants.ENDPOINT
