"""Benchmark: how long hostile Hub servers hold one planner call, with the limits and without them.

Run: ``python -m benchmarks.hub_limits [--deadline 20] [--give-up 120] [--unlimited]``.

A local fake Hub (``tests/fakehub.py``, huggingface_hub's real client) plays four servers:

* ``drip``: ``config.json`` sent one byte every 0.5 s (each byte well inside the 5 s read timeout);
* ``silent``: accepts the connection and never answers;
* ``drip listing``: the model listing (``model_info``) one byte every 0.5 s;
* ``no size``: a 200 MiB ``config.json`` without ``Content-Length``.

For each it prints the seconds until the call gave up, the error, and the bytes the server sent.
``--unlimited`` also runs them with the transport's limits switched off (the planner before them),
each stopped by the benchmark after ``--give-up`` seconds. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from huggingface_hub import constants

from planner.hub import fetch_config, fetch_model_info
from planner.hub import limits as hub_limits
from tests.fakehub import FakeFile, FakeHub

TINY = "fake-org/tiny-llama"
HUGE = 200 * 1024 * 1024


def _scenarios():
    def drip(repo):
        repo.drip["config.json"] = 0.5

    def silent(repo):
        repo.delay = 3600.0

    def drip_listing(repo):
        repo.drip["api"] = 0.5

    def no_size(repo):
        repo.files["config.json"] = FakeFile(HUGE, None, etag="huge")
        repo.no_length.add("config.json")

    return [
        ("drip config.json", drip, fetch_config),
        ("silent server", silent, fetch_config),
        ("drip model listing", drip_listing, fetch_model_info),
        ("no size, 200 MiB", no_size, fetch_config),
    ]


def _run(setup, fetch, deadline: float, give_up: float, limited: bool) -> tuple[float, str, int]:
    with FakeHub() as hub, tempfile.TemporaryDirectory() as tmp:
        saved = (constants.ENDPOINT, constants.HUGGINGFACE_CO_URL_TEMPLATE, constants.HF_HUB_CACHE)
        constants.ENDPOINT = hub.url
        constants.HUGGINGFACE_CO_URL_TEMPLATE = hub.url + "/{repo_id}/resolve/{revision}/{filename}"
        constants.HF_HUB_CACHE = str(Path(tmp) / "hub")
        original = hub_limits.LimitedTransport.handle_request
        if not limited:
            hub_limits.LimitedTransport.handle_request = lambda self, r: self.inner.handle_request(r)
        setup(hub.repos[TINY])
        outcome: list[str] = []

        def call() -> None:
            try:
                fetch(TINY, deadline=deadline)
                outcome.append("answered")
            except Exception as exc:
                outcome.append(f"{type(exc).__name__}: {str(exc)[:90]}")

        start = time.monotonic()
        worker = threading.Thread(target=call, daemon=True)
        worker.start()
        worker.join(give_up)
        took = time.monotonic() - start
        what = outcome[0] if outcome else f"still waiting after {give_up:g} s (stopped by the benchmark)"
        sent = sum(hub.sent.values())
        hub.stop()
        worker.join(10)
        hub_limits.LimitedTransport.handle_request = original
        constants.ENDPOINT, constants.HUGGINGFACE_CO_URL_TEMPLATE, constants.HF_HUB_CACHE = saved
        return took, what, sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deadline", type=float, default=hub_limits.DEFAULT_DEADLINE_S)
    parser.add_argument("--give-up", type=float, default=120.0)
    parser.add_argument("--unlimited", action="store_true", help="also run without the limits")
    args = parser.parse_args()
    modes = [True, False] if args.unlimited else [True]
    print(f"deadline {args.deadline:g} s per call; read timeout 5 s per request")
    for name, setup, fetch in _scenarios():
        for limited in modes:
            took, what, sent = _run(setup, fetch, args.deadline, args.give_up, limited)
            label = "limits" if limited else "no limits"
            print(f"{name:20} {label:9} {took:7.1f} s  {sent / 2**20:8.2f} MiB sent  {what}")


if __name__ == "__main__":
    main()
