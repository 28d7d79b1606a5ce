"""The command that runs the plan: shell lines (with their environment) or a Python snippet, with a copy button."""

from __future__ import annotations

import streamlit as st

from planner.fit.answer import FitAnswer, plan_launch
from planner.memory.estimate import MemoryEstimate
from ui.markdown import escape


def draw_launch(est: MemoryEstimate, answer: FitAnswer | None) -> None:
    """The plan's launch command in a code block (Streamlit's ``st.code`` has a copy button), and its notes."""
    st.subheader("Launch command")
    launch = plan_launch(est, answer)
    if launch is None:
        st.info(f"No launch command is modelled for {est.engine} yet.")
        return
    st.caption(
        "Runs this plan with the settings the estimate assumed (context, slots, cache type, offload). Copy it with "
        "the button in the box's corner. Flags checked against " + escape(launch.source) + "."
    )
    st.code(launch.script, language="python" if launch.kind == "python" else "bash")
    if launch.notes:
        st.markdown("\n".join(f"- {escape(note)}" for note in launch.notes))


__all__ = ["draw_launch"]
