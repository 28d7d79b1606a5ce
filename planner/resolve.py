"""One way in for "which model?": a catalog id, a local ``config.json`` (or its folder), or a Hub id."""

from __future__ import annotations

from pathlib import Path

from planner.catalog import find_entry
from planner.errors import ModelNotFoundError, PlannerError
from planner.model import ModelSpec, model_from_bytes, model_from_config
from planner.model.config import MAX_CONFIG_BYTES
from planner.ollama_tags import looks_like_tag, require_tag


def load_model(ref: str, *, allow_hub: bool = True, allow_local: bool = True) -> ModelSpec:
    """Resolve ``ref`` in order: catalog id, Ollama library tag, local path, Hugging Face Hub id.

    An Ollama tag (``llama3.1:8b``, from ``data/ollama_tags.json``) names the catalog model its
    blob was converted from (:mod:`planner.ollama_tags`; its format is the request's default).

    The app passes ``allow_local=False``: text typed into a shared page must never
    read files on the server. Raises :class:`ModelNotFoundError` when none matches,
    or the parser's/Hub's own :class:`PlannerError` when a source exists but cannot be used.
    """
    ref = ref.strip()
    if not ref:
        raise ModelNotFoundError("no model given")
    entry = find_entry(ref)
    if entry is not None:
        return entry.spec()
    if looks_like_tag(ref):
        tag = require_tag(ref)
        found = find_entry(tag.model)
        if found is None:  # pragma: no cover - the tag map test holds every model to the catalog
            raise ModelNotFoundError(f"Ollama tag {tag.tag} names {tag.model}, which is not in the catalog")
        return found.spec()
    if not allow_local:
        return _from_hub(ref, allow_hub)
    path = Path(ref).expanduser()
    try:
        if path.is_dir():
            path = path / "config.json"
        is_file = path.is_file()
    except OSError:  # a name too long or otherwise impossible as a path: not a local file
        is_file = False
    if is_file:
        return _from_file(path)
    if ref.endswith(".json") or ref.startswith((".", "/", "~")):
        raise ModelNotFoundError(f"no such file: {ref}")
    return _from_hub(ref, allow_hub)


def _from_hub(ref: str, allow_hub: bool) -> ModelSpec:
    if not allow_hub:
        raise ModelNotFoundError(f"'{ref}' is not in the shipped catalog")
    from planner import hub

    return model_from_config(hub.fetch_config(ref), name=ref)


def _from_file(path: Path) -> ModelSpec:
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise PlannerError(f"{path} is {size:,} bytes; a config.json is at most {MAX_CONFIG_BYTES:,}")
        data = path.read_bytes()
    except OSError as exc:
        raise ModelNotFoundError(f"cannot read {path}: {exc.strerror}") from None
    return model_from_bytes(data, name=str(path))
