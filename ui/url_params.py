"""Shared links whose values the widgets cannot take: say so instead of silently resetting.

Streamlit's ``bind="query-params"`` drops a URL value that is not one of a widget's options and
shows the default; a user who opened a shared link would then read a different plan than the one
shared. :func:`check_choice` runs before the widget is drawn: it accepts an id where the widget
shows a label (``gpu=rtx-4090`` as well as the GPU's name) and warns about anything else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import streamlit as st


def check_choice(
    key: str, what: str, labels: Iterable[str], aliases: Mapping[str, str] | None = None
) -> None:
    """Warn (in the sidebar) when the URL's ``key`` is not one of ``labels``.

    ``aliases`` maps other spellings (an id where the widget shows a name) to the widget's option,
    which becomes the widget's value.
    """
    value = st.query_params.get(key)
    if value is None:
        return
    allowed = set(labels)
    if value in allowed:
        return
    option = {a.casefold(): o for a, o in (aliases or {}).items()}.get(value.strip().casefold())
    if option is not None:
        st.session_state[key] = option
        return
    shown = value if len(value) <= 80 else value[:77] + "..."
    st.sidebar.warning(f"The link's {what} `{shown}` is not one this app knows; showing the default instead.")
    del st.query_params[key]
