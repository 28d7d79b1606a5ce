"""Hub repo ids and revisions, checked before any request is made.

A malformed id or revision never reaches huggingface_hub: it fails here with a
:class:`ModelNotFoundError` that says what a valid one looks like.
"""

from __future__ import annotations

import re

from huggingface_hub import constants
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

from planner.errors import ModelNotFoundError

_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
_SHA = re.compile(r"[0-9a-f]{40}")


def check_repo_id(repo_id: object) -> str:
    """Return ``repo_id`` stripped if it is an ``org/name`` Hub id, else raise
    :class:`ModelNotFoundError`. No request is made."""
    if not isinstance(repo_id, str):
        raise ModelNotFoundError("a Hub model id must be text like 'org/name'")
    text = repo_id.strip()
    shown = text if len(text) <= 120 else text[:117] + "..."
    if "://" in text or text.startswith(("huggingface.co/", "hf.co/", "www.")):
        raise ModelNotFoundError(f"'{shown}' looks like a URL: give the model id only, like 'org/name'")
    if not _REPO_ID.fullmatch(text):
        raise ModelNotFoundError(
            f"'{shown}' is not a Hub model id: expected 'org/name' with letters, digits, '-', '_' or '.'"
        )
    try:
        validate_repo_id(text)
    except HFValidationError:
        raise ModelNotFoundError(
            f"'{shown}' is not a valid Hub model id (no '..', '--', '.git' ending, or leading/trailing '.'/'-')"
        ) from None
    return text


def check_revision(revision: object) -> str:
    """``revision`` as given, ``main`` when it is None; raise :class:`ModelNotFoundError` if malformed."""
    if revision is None:
        return constants.DEFAULT_REVISION
    if (
        not isinstance(revision, str)
        or not revision.strip()
        or len(revision) > 255
        or ".." in revision
        or any(ch.isspace() or ord(ch) < 32 for ch in revision)
    ):
        raise ModelNotFoundError("a revision must be a branch, tag or commit sha, like 'main'")
    return revision


def is_commit_sha(rev: str) -> bool:
    """A full commit sha names content that never changes, so a cached answer for it is final."""
    return _SHA.fullmatch(rev) is not None
