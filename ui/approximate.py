"""The warning every page shows above figures computed for an approximate model.

The wording is the planner's (:func:`planner.report.approximate_warning`), the same line the
CLI prints; this module only puts it on the page.
"""

from __future__ import annotations

import streamlit as st

from planner.model import ModelSpec
from planner.report import approximate_warning


def warn_if_approximate(spec: ModelSpec) -> None:
    """An ``st.warning`` with the likely error when ``spec``'s figures are approximate."""
    text = approximate_warning(spec)
    if text:
        st.warning(text[0].upper() + text[1:], icon="⚠️")
