"""The Fit check page's sections, one module each; ``ui/pages/fit_check.py`` lays them out in order.

Each section takes the plan's estimate and fit answer (from :func:`planner.fit.answer.answer_plan`)
and only draws them: every figure comes from ``planner``, in GiB (2**30 bytes).
"""

from __future__ import annotations

import streamlit as st

GIB_COLUMN = st.column_config.NumberColumn(format="%.2f")
