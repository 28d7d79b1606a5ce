"""Ollama library tags (``llama3.1:8b``) -> the catalog model and the weight format of the tag's blob.

The shipped map is ``data/ollama_tags.json``; every entry cites where its tag, format and size were
published (``GET /api/tags`` outputs, the ollama.com tags list). :func:`find_tag` reads what a user
types (``llama3.1:8b``, ``library/qwen2.5:7b``, ``gemma2``); :func:`tag_for` goes back from a model
and format to the tag, for the launch command.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from planner.errors import ModelNotFoundError, PlannerError
from planner.frozen import record

TAGS_FILE = Path(__file__).resolve().parents[1] / "data" / "ollama_tags.json"
#: ``[library/]name[:tag]``: lower-case letters, digits, dots, dashes and underscores.
_TAG = re.compile(r"^(?:library/)?(?P<name>[a-z0-9][a-z0-9._-]*)(?::(?P<tag>[a-z0-9][a-z0-9._-]*))?$")


@record
class OllamaTag:
    """One library tag: the catalog model it was converted from and its blob's weight format."""

    tag: str  # canonical, e.g. "llama3.1:8b"
    model: str  # catalog id
    format: str  # planner format id, e.g. "q4_k_m"
    size: int | None  # bytes as GET /api/tags reports them
    source: str
    note: str | None = None


@cache
def _data() -> dict[str, object]:
    data = json.loads(TAGS_FILE.read_text(encoding="utf-8"))
    sources = data.get("sources", {})
    tags = data.get("tags", {})
    if not isinstance(sources, dict) or not isinstance(tags, dict):
        raise PlannerError(f"{TAGS_FILE.name}: must hold 'sources' and 'tags' objects")
    for name, entry in tags.items():
        if entry.get("source") not in sources:
            raise PlannerError(f"{TAGS_FILE.name}: tag '{name}' cites an unknown source")
        target = entry.get("alias")
        if target is not None and target not in tags:
            raise PlannerError(f"{TAGS_FILE.name}: alias '{name}' points at unknown tag '{target}'")
        if target is None and not (
            isinstance(entry.get("model"), str) and isinstance(entry.get("format"), str)
        ):
            raise PlannerError(f"{TAGS_FILE.name}: tag '{name}' needs a model and a format")
    return data


def tags() -> dict[str, OllamaTag]:
    """Every canonical tag (aliases resolved away), by tag."""
    data = _data()
    out = {}
    for name, entry in data["tags"].items():  # type: ignore[union-attr]
        if "alias" in entry:
            continue
        out[name] = OllamaTag(
            name, entry["model"], entry["format"], entry.get("size"), entry["source"], entry.get("note")
        )
    return out


def source_text(key: str) -> str:
    """The citation behind a source key."""
    return str(_data()["sources"][key])  # type: ignore[index]


def looks_like_tag(ref: str) -> bool:
    """Whether ``ref`` is spelled like an Ollama name (``name:tag`` or ``library/name``), not a Hub id or path."""
    text = ref.strip().lower()
    return bool(_TAG.match(text)) and (":" in text or text.startswith("library/"))


def find_tag(ref: str) -> OllamaTag | None:
    """The tag ``ref`` names (``llama3.1:8b``, ``library/llama3.1``, ``gemma2:latest``), or ``None``."""
    text = ref.strip().lower()
    match = _TAG.match(text)
    if not match:
        return None
    entries = _data()["tags"]
    name, tag = match["name"], match["tag"]
    candidates = [f"{name}:{tag}"] if tag else [f"{name}:latest", name]
    for key in candidates:
        entry = entries.get(key)  # type: ignore[union-attr]
        seen = 0
        while entry is not None and "alias" in entry and seen < 4:
            key, entry, seen = entry["alias"], entries.get(entry["alias"]), seen + 1  # type: ignore[union-attr]
        if entry is not None and "alias" not in entry:
            return tags()[key]
    return None


def require_tag(ref: str) -> OllamaTag:
    """:func:`find_tag`, or :class:`ModelNotFoundError` listing the shipped tags."""
    found = find_tag(ref)
    if found is None:
        raise ModelNotFoundError(
            f"'{ref.strip():.60}' is not in the shipped Ollama tag map (data/ollama_tags.json); known tags: "
            + ", ".join(sorted(tags()))
        )
    return found


def tag_for(model: str, format_id: str) -> OllamaTag | None:
    """The library tag whose blob is ``model`` in ``format_id``, if the map has one."""
    for entry in tags().values():
        if entry.model == model and entry.format == format_id:
            return entry
    return None


__all__ = [
    "TAGS_FILE",
    "OllamaTag",
    "find_tag",
    "looks_like_tag",
    "require_tag",
    "source_text",
    "tag_for",
    "tags",
]
