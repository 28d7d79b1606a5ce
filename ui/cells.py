"""How the app's tables show a value: formatted text, and a dash where there is none."""

from __future__ import annotations

#: The cell text for "no value" (nothing fits, no published score): never "None".
DASH = "—"


def tokens_cell(tokens: int | None) -> str:
    """A token count with thousands separators (``24,576``), or a dash for none."""
    return DASH if tokens is None else f"{tokens:,}"
