"""README sections that scripts generate between ``<!-- name:start -->`` / ``<!-- name:end -->`` markers."""

from __future__ import annotations


def replace_section(text: str, section: str, start: str, end: str) -> str:
    """``text`` with the part between ``start`` and ``end`` replaced by ``section`` (appended when neither is there)."""
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        return head + section + tail
    if start in text or end in text:
        raise SystemExit(f"README.md has only one of {start} / {end}; fix it by hand")
    return text.rstrip("\n") + "\n\n" + section + "\n"
