"""README sections that scripts generate between ``<!-- name:start -->`` / ``<!-- name:end -->`` markers."""

from __future__ import annotations

import sys
from pathlib import Path


def replace_section(text: str, section: str, start: str, end: str) -> str:
    """``text`` with the part between ``start`` and ``end`` replaced by ``section`` (appended when neither is there)."""
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        return head + section + tail
    if start in text or end in text:
        raise SystemExit(f"README.md has only one of {start} / {end}; fix it by hand")
    return text.rstrip("\n") + "\n\n" + section + "\n"


def write_or_check(
    readme: Path, section: str, start: str, end: str, *, check: bool, name: str, command: str
) -> int:
    """Rewrite ``readme``'s section (``check``: only say whether it is out of date); the exit status.

    ``name`` says which section in the message, ``command`` how to regenerate it.
    """
    current = readme.read_text(encoding="utf-8")
    wanted = replace_section(current, section, start, end)
    if check:
        if wanted != current:
            print(f"README.md's {name} section is out of date: run {command}", file=sys.stderr)
            return 1
        return 0
    if wanted != current:
        readme.write_text(wanted, encoding="utf-8")
    return 0
