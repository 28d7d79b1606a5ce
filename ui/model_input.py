"""Picking a model: the shipped catalog, a Hub id, or an uploaded ``config.json``.

The catalog choice and the Hub id are bound to the URL, so a link reproduces the view.
"""

from __future__ import annotations

import streamlit as st

from planner import ModelSpec, PlannerError, load_catalog, load_model
from planner.model.config import parse_config_bytes
from planner.model.inventory import describe
from ui.url_params import check_choice

SOURCES = ("Catalog", "Hub id", "Upload config.json")
DEFAULT_MODEL = "meta-llama/Llama-3.1-8B"


@st.cache_data(ttl=3600, show_spinner="Reading the model from the Hugging Face Hub…")
def _hub_model(repo_id: str) -> ModelSpec:
    return load_model(repo_id, allow_local=False)


def pick_model() -> ModelSpec | None:
    """Render the model picker in the sidebar; returns the chosen model or ``None`` after an error."""
    catalog = load_catalog()
    ids = sorted(catalog, key=lambda i: (catalog[i].family, catalog[i].reference.total))
    with st.sidebar:
        st.header("Model")
        source = st.radio("Source", SOURCES, key="source", bind="query-params", horizontal=True)
        try:
            if source == "Catalog":
                check_choice("model", "catalog model", ids)
                default = ids.index(DEFAULT_MODEL) if DEFAULT_MODEL in ids else 0
                model_id = st.selectbox(
                    "Catalog model",
                    ids,
                    index=default,
                    key="model",
                    bind="query-params",
                    help=f"{len(ids)} shipped models (Hugging Face ids); type to search",
                )
                return catalog[model_id].spec() if model_id else None
            if source == "Hub id":
                repo = st.text_input(
                    "Hugging Face model id",
                    key="hub",
                    bind="query-params",
                    placeholder="org/name",
                    help="Reads config.json from the Hub (cached; works offline once fetched). "
                    "Gated models need HF_TOKEN set where the app runs.",
                )
                return _hub_model(repo.strip()) if repo.strip() else None
            upload = st.file_uploader("config.json", type=["json"], key="upload")
            return describe(parse_config_bytes(upload.getvalue()), upload.name) if upload else None
        except PlannerError as exc:
            st.error(str(exc))
            return None
