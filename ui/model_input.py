"""Picking a model: the shipped catalog, a Hub id, or an uploaded ``config.json``.

The link carries ``source`` (``catalog``, ``hub`` or ``upload``) and ``model`` (a catalog id or a
Hugging Face id); older links' ``source=Hub id`` and ``hub=org/name`` are read too (:mod:`ui.url_state`).
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from planner import ModelSpec, PlannerError, load_catalog, load_model
from planner.catalog import find_entry
from planner.model.config import parse_config_bytes
from planner.model.inventory import describe
from planner.ollama_tags import find_tag, looks_like_tag
from ui.url_state import LinkValueError, from_link, link_value, shown_index

#: Model sources by id, with the label the radio shows.
SOURCES = {"catalog": "Catalog", "hub": "Hub id", "upload": "Upload config.json"}
DEFAULT_MODEL = "meta-llama/Llama-3.1-8B"
#: Longest Hugging Face id typed or linked (org/name: 96 characters each on the Hub).
MAX_HUB_ID = 200


@dataclass(frozen=True)
class ModelChoice:
    """The picked model (``None`` after an error, which the sidebar shows), its source and its link id."""

    spec: ModelSpec | None
    source: str
    ref: str | None  # the catalog id or Hub id the link carries (None for an upload)


@st.cache_data(ttl=3600, max_entries=64, show_spinner="Reading the model from the Hugging Face Hub…")
def _hub_model(repo_id: str) -> ModelSpec:
    return load_model(repo_id, allow_local=False)


def _source(text: str) -> str:
    """A source id from a link: an id or the radio's label, any case."""
    folded = text.strip().casefold()
    for source, label in SOURCES.items():
        if folded in (source, label.casefold()):
            return source
    raise LinkValueError(f"not a model source ({', '.join(SOURCES)})")


def _catalog_id(text: str) -> str:
    entry = find_entry(text.strip())
    if entry is not None:
        return entry.id
    tag = find_tag(text) if looks_like_tag(text) else None
    if tag is None:
        raise LinkValueError(
            "not in the shipped catalog (a Hugging Face id needs source=hub; Ollama tags: data/ollama_tags.json)"
        )
    # NOTE: an Ollama tag in a link (`model=llama3.1:8b`) names the catalog model its blob was converted
    # from, as in the CLI: the tag's format and the ollama engine apply unless the link gives its own.
    if link_value("format") is None:
        st.session_state["format"] = tag.format
    if link_value("engine") is None:
        st.session_state["engine"] = "ollama"
    return tag.model


#: Session key: an Ollama tag typed in the Hub box, applied at the start of the next run.
_TYPED_TAG = "_typed_ollama_tag"


def _apply_typed_tag() -> None:
    """Open the catalog model, format and engine of an Ollama tag typed in the Hub box.

    # NOTE: the source, format and engine widgets exist by the time the Hub box is read, so their
    # values can only change at the start of the next run (Streamlit refuses to set a drawn widget's key).
    """
    typed = st.session_state.pop(_TYPED_TAG, None)
    tag = find_tag(typed) if typed else None
    if tag is None:
        return
    st.session_state.update(source="catalog", model=tag.model, format=tag.format, engine="ollama", hub="")
    st.session_state[_TYPED_TAG + "_note"] = (
        f"Ollama tag `{tag.tag}` is **{tag.model}** in {tag.format} (data/ollama_tags.json): "
        "opened from the catalog, on the ollama engine."
    )


def _hub_id(text: str) -> str:
    text = text.strip()
    if not text:
        raise LinkValueError("empty")
    return text


def _link_source() -> None:
    """The source radio from the link: ``source`` when given, else ``hub`` for an older ``hub=`` link."""
    linked = from_link("source", "source", _source, default="catalog", show=SOURCES.get)
    if not linked and link_value("source") is None and link_value("hub") is not None:
        st.session_state["source"] = "hub"


def pick_model() -> ModelChoice:
    """Render the model picker in the sidebar."""
    catalog = load_catalog()
    ids = sorted(catalog, key=lambda i: (catalog[i].family, catalog[i].reference.total))
    with st.sidebar:
        st.header("Model")
        _apply_typed_tag()
        _link_source()
        source = st.radio(
            "Source", list(SOURCES), index=shown_index("source", SOURCES), key="source", horizontal=True,
            format_func=SOURCES.__getitem__,
        )  # fmt: skip
        try:
            if source == "catalog":
                note = st.session_state.pop(_TYPED_TAG + "_note", None)
                if note:
                    st.info(note)
                default = DEFAULT_MODEL if DEFAULT_MODEL in ids else ids[0]
                from_link("model", "model", _catalog_id, default=default)
                if st.session_state["model"] not in catalog:
                    st.session_state["model"] = default
                model_id = st.selectbox(
                    "Catalog model",
                    ids,
                    index=shown_index("model", ids),
                    key="model",
                    help=f"{len(ids)} shipped models (Hugging Face ids); type to search",
                )
                return ModelChoice(catalog[model_id].spec(), source, model_id)
            if source == "hub":
                from_link(
                    "model",
                    "hub",
                    _hub_id,
                    default="",
                    aliases=("hub",),
                    show=lambda v: f"`{v}`" if v else "no model",
                )
                repo = st.text_input(
                    "Hugging Face model id",
                    key="hub",
                    placeholder="org/name",
                    max_chars=MAX_HUB_ID,
                    help="Reads config.json from the Hub (cached; works offline once fetched). "
                    "Gated models need HF_TOKEN set where the app runs.",
                )
                repo = repo.strip()
                if repo and looks_like_tag(repo) and find_tag(repo) is not None:
                    st.session_state[_TYPED_TAG] = repo
                    st.rerun()
                return ModelChoice(_hub_model(repo) if repo else None, source, repo or None)
            upload = st.file_uploader("config.json", type=["json"], key="upload")
            spec = describe(parse_config_bytes(upload.getvalue()), upload.name) if upload else None
            return ModelChoice(spec, source, None)
        except PlannerError as exc:
            st.error(str(exc))
            ref = st.session_state.get("hub") if source == "hub" else None
            return ModelChoice(None, source, ref or None)


__all__ = ["DEFAULT_MODEL", "SOURCES", "ModelChoice", "pick_model"]
