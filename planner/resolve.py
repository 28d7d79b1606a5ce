"""One way in for "which model?": a catalog id, a local ``config.json`` (or its folder), or a Hub id.

Local folders and Hub repos bring their safetensors headers when they have them: the
tensors then come from the checkpoint itself (:mod:`planner.model.inventory`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from planner.catalog import find_entry
from planner.errors import ModelNotFoundError, PlannerError
from planner.model import ModelSpec
from planner.model.config import MAX_CONFIG_BYTES, parse_config_bytes
from planner.model.inventory import describe, folder_headers

logger = logging.getLogger(__name__)


def load_model(
    ref: str, *, allow_hub: bool = True, allow_local: bool = True, meta: bool | None = None
) -> ModelSpec:
    """Resolve ``ref`` in order: catalog id, local path, Hugging Face Hub id.

    The app passes ``allow_local=False``: text typed into a shared page must never
    read files on the server. Raises :class:`ModelNotFoundError` when none matches,
    or the parser's/Hub's own :class:`PlannerError` when a source exists but cannot be used.
    Catalog models use their hand-written builders (checked against transformers); a local
    checkpoint or a Hub repo uses its safetensors headers, else transformers on the meta
    device (``meta``: True/False, or None for "when installed"), else the builders.
    """
    ref = ref.strip()
    if not ref:
        raise ModelNotFoundError("no model given")
    entry = find_entry(ref)
    if entry is not None:
        return entry.spec()
    if not allow_local:
        return _from_hub(ref, allow_hub, meta)
    path = Path(ref).expanduser()
    try:
        if path.is_dir():
            path = path / "config.json"
        is_file = path.is_file()
    except OSError:  # a name too long or otherwise impossible as a path: not a local file
        is_file = False
    if is_file:
        return _from_file(path, meta)
    if ref.endswith(".json") or ref.startswith((".", "/", "~")):
        raise ModelNotFoundError(f"no such file: {ref}")
    return _from_hub(ref, allow_hub, meta)


def _from_hub(ref: str, allow_hub: bool, meta: bool | None) -> ModelSpec:
    if not allow_hub:
        raise ModelNotFoundError(f"'{ref}' is not in the shipped catalog")
    from planner import hub

    try:
        info = hub.fetch_model_info(ref)
    except PlannerError as exc:
        # NOTE: the headers are a bonus; the config alone (maybe cached) still answers.
        logger.info("No safetensors headers for %s (%s); reading its config.json only", ref, exc)
        info = None
    if info is None or info.config is None:
        return describe(hub.fetch_config(ref), ref, meta=meta)
    headers = None
    st = info.safetensors
    if st is not None and st.groups:
        files = f"{len(st.files)} file{'s' if len(st.files) > 1 else ''}"
        headers = (st.groups, f"{st.tensor_count:,} tensors in {files} of {info.repo_id}@{info.sha[:12]}")
    return describe(info.config, ref, headers=headers, meta=meta)


def _from_file(path: Path, meta: bool | None) -> ModelSpec:
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise PlannerError(f"{path} is {size:,} bytes; a config.json is at most {MAX_CONFIG_BYTES:,}")
        data = path.read_bytes()
    except OSError as exc:
        raise ModelNotFoundError(f"cannot read {path}: {exc.strerror}") from None
    config = parse_config_bytes(data)
    return describe(config, str(path), headers=folder_headers(path.parent), meta=meta)
