"""Every Hub request of the planner under an overall deadline and a byte cap, both checked while streaming.

huggingface_hub bounds each socket read (``timeout``), not a whole call: a server that drips one byte
per second never trips a 5 s read timeout, and ``http_get`` retries timed-out downloads five times. A
response without ``Content-Length`` is read whole before anyone can look at its size. So the planner
wraps the transport of huggingface_hub's shared ``httpx`` client (:func:`install`, through the public
:func:`huggingface_hub.set_client_factory`) with :class:`LimitedTransport`, which, while a
:func:`hub_limits` block is active in the calling context:

* refuses to start a request once the deadline has passed, and clips every request's connect/read
  timeouts to the time left;
* checks the deadline again after each chunk of a body, so a slow drip stops at the deadline (late by
  at most one read, itself clipped);
* refuses a body whose ``Content-Length`` exceeds the cap, and stops one without it as soon as the
  bytes read pass the cap (a resumed download counts the bytes it already has, from ``Range``);
* asks for ``Accept-Encoding: identity`` so the bytes counted are the bytes kept (no gzip bomb);
* turns a 429 into :class:`RateLimited` at once, instead of huggingface_hub's sleep until the reset.

Outside a :func:`hub_limits` block (other users of huggingface_hub in the same process, such as the
verifier's downloads) the transport changes nothing.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from huggingface_hub import set_client_factory
from huggingface_hub.utils import httpx

#: Seconds one planner call (all its Hub requests together) may take.
DEFAULT_DEADLINE_S = 20.0
#: Bytes of one response body: a model listing with every file, or a sharded safetensors header,
#: stays far below (huggingface_hub refuses safetensors headers over 25,000,000 bytes).
DEFAULT_MAX_BYTES = 32 * 1024 * 1024

_RANGE_START = re.compile(r"^\s*bytes=(\d+)-\s*$")


class DeadlineExceeded(TimeoutError):
    """The call's deadline passed (a :class:`TimeoutError`, which huggingface_hub does not retry)."""


class ResponseTooLarge(Exception):
    """A response body passed the byte cap."""

    def __init__(self, limit: int, seen: int | None) -> None:
        super().__init__(f"response body over the {limit:,}-byte limit")
        self.limit = limit
        self.seen = seen


class RateLimited(Exception):
    """The Hub answered 429; carries the response headers (for the reset time)."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        super().__init__("rate limited")
        self.headers = {k.lower(): v for k, v in headers.items()}


@dataclass(frozen=True)
class Limits:
    deadline: float  # time.monotonic() value
    max_bytes: int
    seconds: float  # as asked, for messages

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


_CURRENT: ContextVar[Limits | None] = ContextVar("planner_hub_limits", default=None)


def current() -> Limits | None:
    """The limits of the innermost :func:`hub_limits` block in this context, if any."""
    return _CURRENT.get()


@contextmanager
def hub_limits(seconds: float | None = None, max_bytes: int | None = None) -> Iterator[Limits]:
    """Bound every Hub request made in this block (and in contexts copied from it).

    ``None`` keeps the enclosing block's value (or the default). Nested blocks only tighten: the
    earlier deadline and the smaller cap win.
    """
    if seconds is not None and not (seconds > 0 and math.isfinite(seconds)):
        raise ValueError(f"the Hub deadline must be a positive number of seconds, not {seconds!r}")
    if max_bytes is not None and max_bytes < 0:
        raise ValueError(f"the Hub byte cap must not be negative, not {max_bytes!r}")
    install()
    outer = _CURRENT.get()
    if outer is None:
        outer = Limits(math.inf, DEFAULT_MAX_BYTES, math.inf)
        seconds = DEFAULT_DEADLINE_S if seconds is None else seconds
    deadline = outer.deadline if seconds is None else min(outer.deadline, time.monotonic() + seconds)
    limits = Limits(
        deadline,
        outer.max_bytes if max_bytes is None else min(outer.max_bytes, max_bytes),
        outer.seconds if deadline == outer.deadline else seconds,  # type: ignore[arg-type]
    )
    token = _CURRENT.set(limits)
    try:
        yield limits
    finally:
        _CURRENT.reset(token)


class _LimitedStream(httpx.SyncByteStream):
    def __init__(self, inner: Any, limits: Limits, already: int) -> None:
        self._inner = inner
        self._limits = limits
        self._seen = already

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._inner:
                self._seen += len(chunk)
                if self._seen > self._limits.max_bytes:
                    raise ResponseTooLarge(self._limits.max_bytes, None)
                if self._limits.remaining() <= 0:
                    raise DeadlineExceeded(f"over the {self._limits.seconds:g} s deadline")
                yield chunk
        except httpx.TimeoutException:
            if self._limits.remaining() <= 0:
                raise DeadlineExceeded(f"over the {self._limits.seconds:g} s deadline") from None
            raise

    def close(self) -> None:
        self._inner.close()


class LimitedTransport(httpx.BaseTransport):
    """Wraps a transport; applies :func:`current` limits to each request (none: passes it through)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        limits = _CURRENT.get()
        if limits is None:
            return self.inner.handle_request(request)
        left = limits.remaining()
        if left <= 0:
            raise DeadlineExceeded(f"over the {limits.seconds:g} s deadline")
        timeouts = dict(request.extensions.get("timeout") or {})
        for key in ("connect", "read", "write", "pool"):
            value = timeouts.get(key)
            timeouts[key] = left if value is None else min(value, left)
        request.extensions = {**request.extensions, "timeout": timeouts}
        request.headers["Accept-Encoding"] = "identity"
        try:
            response = self.inner.handle_request(request)
        except httpx.TimeoutException:
            if limits.remaining() <= 0:
                raise DeadlineExceeded(f"over the {limits.seconds:g} s deadline") from None
            raise
        if response.status_code == 429:
            response.close()
            raise RateLimited(response.headers)
        if request.method != "HEAD":
            already = _resumed_from(request)
            length = _content_length(response)
            encoding = response.headers.get("content-encoding", "identity").strip().lower()
            if encoding not in ("", "identity"):
                response.close()
                raise ResponseTooLarge(limits.max_bytes, None)  # a size we cannot count before decoding
            if length is not None and already + length > limits.max_bytes:
                response.close()
                raise ResponseTooLarge(limits.max_bytes, already + length)
            response.stream = _LimitedStream(response.stream, limits, already)
        return response

    def close(self) -> None:
        self.inner.close()


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def _resumed_from(request: httpx.Request) -> int:
    """Bytes a resumed download already has (``Range: bytes=N-`` from ``http_get``), else 0."""
    match = _RANGE_START.match(request.headers.get("range", ""))
    return int(match.group(1)) if match else 0


_INSTALL_LOCK = threading.Lock()
_installed = False


def install() -> None:
    """Make huggingface_hub's shared client use :class:`LimitedTransport` (once per process).

    Builds the client huggingface_hub would build (its own factory: event hooks, redirects, proxies
    from the environment) and wraps its transports, so nothing else about the client changes.
    """
    global _installed
    if _installed:
        return
    with _INSTALL_LOCK:
        if _installed:
            return
        from huggingface_hub.utils._http import default_client_factory

        def factory() -> httpx.Client:
            client = default_client_factory()
            client._transport = LimitedTransport(client._transport)
            client._mounts = {
                pattern: LimitedTransport(t) if t is not None else None
                for pattern, t in client._mounts.items()
            }
            return client

        set_client_factory(factory)
        _installed = True
