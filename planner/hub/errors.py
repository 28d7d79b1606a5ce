"""huggingface_hub and httpx failures turned into :mod:`planner.errors` types, token redacted.

Every Hub call runs through :func:`guarded`, so no library exception (whose request
object holds the authorization header) reaches a caller, a traceback or a log line;
messages say what to do (accept a license, set ``HF_TOKEN``, retry later).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from typing import TypeVar

from huggingface_hub import constants
from huggingface_hub.errors import (
    DisabledRepoError,
    EntryNotFoundError,
    FileMetadataError,
    GatedRepoError,
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    NotASafetensorsRepoError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
    SafetensorsParsingError,
)
from huggingface_hub.utils import httpx, parse_ratelimit_headers

from planner.errors import (
    ConfigError,
    HubError,
    HubGatedError,
    HubNotFoundError,
    HubOfflineError,
    HubRateLimitError,
    HubTimeoutError,
    ModelNotFoundError,
    PlannerError,
)
from planner.hub.limits import DeadlineExceeded, RateLimited, ResponseTooLarge

logger = logging.getLogger(__name__)

_TOKEN_LIKE = re.compile(r"hf_[A-Za-z0-9]{8,}")

T = TypeVar("T")


class NoSafetensors(PlannerError):
    """Internal: the repo has no (readable) safetensors; not an error for the caller."""


def guarded(call: Callable[[], T], repo_id: str, rev: str, what: str) -> T:
    """Run one huggingface_hub call; re-raise any failure as a planner error.

    The planner error is raised *outside* the ``except`` block so that neither
    ``__cause__`` nor ``__context__`` keeps the library exception (whose request
    object holds the authorization header).
    """
    try:
        return call()
    except PlannerError:
        raise
    except Exception as exc:
        logger.debug(
            "Hub call for %s of %s failed: %s: %s", what, repo_id, type(exc).__name__, redact(str(exc))
        )
        failure = _translate(exc, repo_id, rev, what)
    raise failure


def _translate(exc: BaseException, repo_id: str, rev: str, what: str) -> PlannerError:
    where = f"'{repo_id}'" if rev == constants.DEFAULT_REVISION else f"'{repo_id}' (revision '{rev}')"
    limited = _in_chain(exc, (DeadlineExceeded, ResponseTooLarge, RateLimited))
    if isinstance(limited, DeadlineExceeded):
        return HubTimeoutError(
            f"the Hub did not answer in time for the {what} of {where} ({limited}); try again later"
        )
    if isinstance(limited, ResponseTooLarge):
        if what == "config.json":
            return ConfigError(
                f"config.json of '{repo_id}' is larger than the limit of {limited.limit:,} bytes"
            )
        return HubError(
            f"the Hub's answer for the {what} of {where} is over the {limited.limit:,}-byte limit"
        )
    if isinstance(limited, RateLimited):
        return _rate_limited(limited.headers)
    if isinstance(exc, NotASafetensorsRepoError):
        return NoSafetensors(what)
    if isinstance(exc, SafetensorsParsingError):
        logger.warning("Safetensors headers of %s could not be parsed; continuing without them", repo_id)
        return NoSafetensors(what)
    if isinstance(exc, GatedRepoError):
        return HubGatedError(
            f"{where} is gated: accept the license on its Hub page ({constants.ENDPOINT.rstrip('/')}/{repo_id}) "
            "with your account, then set HF_TOKEN to a token of that account"
        )
    if isinstance(exc, RepositoryNotFoundError):
        return HubNotFoundError(
            f"{where} was not found on the Hub, or it is private: check the id, or set HF_TOKEN "
            "to a token that can read it"
        )
    if isinstance(exc, RevisionNotFoundError):
        return HubNotFoundError(f"revision '{rev}' of '{repo_id}' was not found on the Hub")
    if isinstance(exc, DisabledRepoError):
        return HubNotFoundError(f"{where} has been disabled on the Hub")
    if isinstance(exc, EntryNotFoundError) and not isinstance(exc, LocalEntryNotFoundError):
        return HubNotFoundError(f"{where} has no {what} on the Hub")
    if isinstance(exc, HfHubHTTPError):
        return _translate_status(exc, where)
    if isinstance(exc, FileMetadataError):
        return HubError(
            "the Hub endpoint answered without the headers a Hugging Face Hub sends: "
            "check HF_ENDPOINT, proxy and firewall settings"
        )
    if _caused_by_timeout(exc):
        return HubTimeoutError(f"the Hub did not answer in time for the {what} of {where}; try again later")
    if isinstance(
        exc, (OfflineModeIsEnabled, LocalEntryNotFoundError, httpx.TransportError, ConnectionError)
    ):
        return offline_error(repo_id, rev, offline_mode=isinstance(exc, OfflineModeIsEnabled))
    if isinstance(exc, HFValidationError):
        return ModelNotFoundError(f"{where} is not a valid Hub model id or revision")
    return HubError(f"unexpected answer from the Hub for the {what} of {where} ({type(exc).__name__})")


def _translate_status(exc: HfHubHTTPError, where: str) -> HubError:
    response = exc.response
    status = response.status_code if response is not None else 0
    server = redact(exc.server_message or "").strip()
    detail = f": {server}" if server and len(server) < 300 else ""
    if status == 429:
        return _rate_limited(response.headers if response is not None else {})
    if status == 401:
        return HubError(
            f"the Hub refused the token (HTTP 401{detail}): HF_TOKEN (or the saved token) is invalid or expired"
        )
    if status == 403:
        return HubError(
            f"the Hub refused access to {where} (HTTP 403{detail}): check your token's permissions"
        )
    if status >= 500:
        return HubError(f"the Hub had an internal error (HTTP {status}) for {where}; try again later")
    return HubError(f"the Hub answered HTTP {status} for {where}{detail}")


def _rate_limited(headers: Mapping[str, str]) -> HubRateLimitError:
    info = parse_ratelimit_headers(headers)
    retry_after = info.reset_in_seconds if info is not None else _retry_after(headers)
    when = f"retry in {retry_after} s" if retry_after is not None else "retry in a few minutes"
    return HubRateLimitError(
        f"the Hub is rate-limiting requests ({when}); setting HF_TOKEN gives a higher limit",
        retry_after=retry_after,
    )


def _retry_after(headers: Mapping[str, str]) -> int | None:
    value = headers.get("retry-after") if hasattr(headers, "get") else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _in_chain(exc: BaseException, types: tuple[type[BaseException], ...]) -> BaseException | None:
    """The first exception of ``types`` in ``exc``'s cause/context chain (library wrappers hide them)."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 8:
        if isinstance(current, types):
            return current
        current = current.__cause__ or current.__context__
        seen += 1
    return None


def _caused_by_timeout(exc: BaseException) -> bool:
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 8:
        if isinstance(current, (httpx.TimeoutException, TimeoutError)):
            return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False


def offline_error(repo_id: str, rev: str, *, offline_mode: bool) -> HubOfflineError:
    """The error for a repo that is neither reachable nor in the local cache."""
    what = f"'{repo_id}'" if rev == constants.DEFAULT_REVISION else f"'{repo_id}' (revision '{rev}')"
    why = "offline mode is on (HF_HUB_OFFLINE)" if offline_mode else "the Hub cannot be reached (no network?)"
    return HubOfflineError(f"{why} and {what} is not in the local cache: go online once to fetch it")


def cache_may_answer(exc: PlannerError) -> bool:
    """Failures after which a cached copy is a fair answer (not: the repo is gone)."""
    if isinstance(exc, (HubOfflineError, HubTimeoutError, HubRateLimitError)):
        return True
    return type(exc) is HubError  # 5xx, odd endpoints


def redact(text: str) -> str:
    """Strip anything that looks like a token (and the configured token) from ``text``."""
    if not text:
        return text
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        secret = os.environ.get(name)
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _TOKEN_LIKE.sub("hf_***", text)
