"""The sidebar's link: its inputs read from the URL as stable ids, and the whole plan written back each run.

Why not Streamlit's ``bind="query-params"`` for these inputs: a bound widget drops a URL value that
is not one of its options (``context=32768`` where the slider shows ``32k``, ``Q4_K_M`` in capitals),
writes labels rather than ids (``gpu=NVIDIA GeForce RTX 3090``), forbids the app to rewrite its
parameter (so a value read from an alias cannot be made canonical), and loses sidebar values from the
address bar after a page change (streamlit#14350). So the sidebar owns its parameters:

* :func:`from_link`, called just before a widget is drawn, reads the URL's value when it is new to
  this session (a shared link, a reload, an edited address bar), parses it with the planner's own
  parsers and puts it into the widget's session state; a value that cannot be used leaves the
  widget as it was and shows a warning naming the parameter, the value and what is shown instead.
* :func:`write_link`, called after the sidebar is drawn, writes every plan parameter
  (:func:`planner.links.page_query`) into the URL, so page changes, reloads and copied links carry
  the whole plan, and drops the legacy spellings it has read (``hub``, ``gpu_source``, ``kv-dtype``).

A URL value equal to what this session last wrote is the session's own echo, not an instruction:
the widget (which the user may just have changed) wins. Values longer than :data:`MAX_LINK_TEXT`
are refused before any parsing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import streamlit as st

from planner.errors import PlannerError
from planner.links import PLAN_PARAMETERS

T = TypeVar("T")

#: Longest URL value the sidebar reads (a model id, a GPU name, a size); longer is refused unread.
MAX_LINK_TEXT = 200
#: Older spellings of plan parameters, read from links and removed when the page rewrites the URL.
LEGACY_PARAMETERS = ("hub", "gpu_source", "kv-dtype", "kv_dtype")
_WRITTEN = "_link_written"
_WARNINGS = "_link_warnings"


class LinkValueError(ValueError):
    """A link value the page cannot show (the message says why, without repeating the value)."""


def link_value(name: str) -> str | None:
    """The URL's value for ``name`` when it is new to this session, else ``None`` (absent or our own echo)."""
    if name not in st.query_params:
        return None
    raw = st.query_params[name]
    if raw == st.session_state.get(_WRITTEN, {}).get(name):
        return None
    return raw


def shorten(text: str, limit: int = 60) -> str:
    """``text`` for a message: cut to ``limit`` characters."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def from_link(
    name: str,
    key: str,
    parse: Callable[[str], T],
    *,
    default: T,
    show: Callable[[T], str] = str,
    aliases: Iterable[str] = (),
) -> bool:
    """Seed widget ``key`` from the link's ``name`` (or an alias) before the widget is drawn.

    ``parse`` turns the text into the widget's value or raises (:class:`PlannerError`,
    :class:`LinkValueError`, ``ValueError``) with the reason. Without a usable value the widget
    keeps its value (``default`` in a new session) and a warning says so. Returns whether the link
    set the value.
    """
    if key not in st.session_state:
        st.session_state[key] = default
    for url_name in (name, *aliases):
        raw = link_value(url_name)
        if raw is None:
            continue
        fallback = st.session_state[key]
        try:
            if len(raw) > MAX_LINK_TEXT:
                raise LinkValueError(f"it is {len(raw):,} characters long; at most {MAX_LINK_TEXT}")
            value = parse(raw)
        except (PlannerError, ValueError) as exc:
            warn(
                name,
                f"The link's `{url_name}={shorten(raw)}` cannot be used: {shorten(str(exc), 160)}. "
                f"Showing {name} **{show(fallback)}** instead.",
                fallback,
            )
            return False
        st.session_state[key] = value
        clear_warning(name)
        return True
    return False


def shown_index(key: str, options: Iterable[Any]) -> int:
    """The position of widget ``key``'s session value among ``options``: the ``index`` to draw it with.

    # NOTE: Streamlit (1.67) sends a keyed widget's value to the browser only in the run that changed
    # it; a widget the browser draws anew (the sidebar after a page switch on a busy server) then
    # shows its default, the first option, while the session plans with another (seen in Chromium:
    # the GPU box read RTX 2060 on the Context page, the plan was for an RTX 3060). Drawn with the
    # session's value as its default, the box shows what is planned whatever the browser kept.
    """
    value = st.session_state.get(key)
    for i, option in enumerate(options):
        if option == value:
            return i
    return 0


def warn(name: str, message: str, shown: Any) -> None:
    """Keep a warning about link parameter ``name`` until its widget shows something else than ``shown``."""
    st.session_state.setdefault(_WARNINGS, {})[name] = (message, shown)


def clear_warning(name: str) -> None:
    st.session_state.get(_WARNINGS, {}).pop(name, None)


def show_warnings(current: Mapping[str, Any]) -> None:
    """Draw the kept warnings in the sidebar; drop those whose parameter now shows another value."""
    kept = st.session_state.get(_WARNINGS, {})
    for name in list(kept):
        message, shown = kept[name]
        if name in current and current[name] != shown:
            del kept[name]
            continue
        st.sidebar.warning(message, icon=":material/link_off:")


def one_of(options: Iterable[str], what: str) -> Callable[[str], str]:
    """A parser for a choice among ``options``, case-insensitive; the error lists a few options."""
    by_fold = {o.casefold(): o for o in options}

    def parse(text: str) -> str:
        found = by_fold.get(text.strip().casefold())
        if found is None:
            listed = ", ".join(list(by_fold.values())[:8])
            more = ", ..." if len(by_fold) > 8 else ""
            raise LinkValueError(f"not a {what} this page offers ({listed}{more})")
        return found

    return parse


def write_link(query: Mapping[str, str]) -> None:
    """Make the URL's plan parameters exactly ``query`` (other pages' parameters stay untouched)."""
    current = {k: st.query_params[k] for k in st.query_params}
    updates = {k: v for k, v in query.items() if current.get(k) != v}
    stale = [k for k in (*PLAN_PARAMETERS, *LEGACY_PARAMETERS) if k in current and k not in query]
    if updates:
        st.query_params.update(updates)
    for k in stale:
        del st.query_params[k]
    st.session_state[_WRITTEN] = dict(query)
