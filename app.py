"""VRAM Planner: the Streamlit entry point and router (``streamlit run app.py``)."""

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).resolve().parent / "ui" / "pages"

st.set_page_config(page_title="VRAM Planner", page_icon=":material/memory:", layout="wide")
page = st.navigation(
    [st.Page(PAGES / "anatomy.py", title="Model anatomy", icon=":material/account_tree:", default=True)]
)
page.run()
