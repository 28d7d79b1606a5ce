"""Text from the planner shown through Streamlit's Markdown, without it turning into formatting."""

from __future__ import annotations

#: Characters Streamlit's Markdown reads as emphasis, code, links, HTML, tables or LaTeX.
MARKDOWN_SPECIAL = frozenset("\\`*_{}[]<>#|$~")


def escape(text: str) -> str:
    """``text`` with every Markdown-special character backslash-escaped (``4*ub*embd`` stays as written)."""
    return "".join("\\" + c if c in MARKDOWN_SPECIAL else c for c in text)
