"""VRAM Planner: the Streamlit entry point and router (``streamlit run app.py``).

The sidebar's inputs are drawn here, before the page, so every page sees them and
their URL parameters survive page switches.
"""

import threading
from pathlib import Path

import streamlit as st

from planner.model.inventory.meta import start_warm_up
from ui.sidebar import render_sidebar
from ui.start_up import freeze_start_up

PAGES = Path(__file__).resolve().parent / "ui" / "pages"


@st.cache_resource(show_spinner=False, max_entries=1)
def _warm_up_meta_device() -> threading.Thread | None:
    """Where torch and transformers are installed, load them in the background once per server: a
    pasted new architecture then builds in about a second (README, Benchmark)."""
    return start_warm_up()


st.set_page_config(page_title="VRAM Planner", page_icon=":material/memory:", layout="wide")
page = st.navigation(
    [
        st.Page(PAGES / "fit_check.py", title="Fit check", icon=":material/check_circle:", default=True),
        st.Page(PAGES / "bit_widths.py", title="Bit widths", icon=":material/stacked_bar_chart:"),
        st.Page(PAGES / "anatomy.py", title="Model anatomy", icon=":material/account_tree:"),
        st.Page(PAGES / "context.py", title="Context", icon=":material/show_chart:"),
        st.Page(PAGES / "what_can_i_run.py", title="What can I run", icon=":material/recommend:"),
        st.Page(PAGES / "my_gpus.py", title="My GPUs", icon=":material/developer_board:"),
        st.Page(PAGES / "verify.py", title="Verify", icon=":material/fact_check:"),
    ]
)
warm_up = _warm_up_meta_device()
render_sidebar()
page.run()
freeze_start_up(warm_up)  # once the first page is drawn and transformers loaded (ui/start_up.py)
