"""Memory sizes, the one units module: the unit constants, parsing what people type, every byte formatter.

Decimal and binary units are kept apart exactly: ``24GB`` is 24 * 10**9 bytes,
``24GiB`` is 24 * 2**30 bytes. A bare number is bytes. Nothing else in the project defines
GiB or formats bytes: it imports them from here.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from planner.hardware.errors import SizeError

KIB = 1 << 10
MIB = 1 << 20
GIB = 1 << 30
TIB = 1 << 40
KB = 10**3
MB = 10**6
GB = 10**9
TB = 10**12

MIN_BARE_BYTES = MIB
"""A bare number below this (1 MiB) is surely a GPU size typed without its unit ("24" meaning 24 GiB)."""

MAX_SIZE_BYTES = 1 << 50
"""Largest size accepted (1 PiB): far above any GPU or host, small enough to catch typos."""

_UNITS: dict[str, int] = {
    "": 1,
    "b": 1,
    "kb": KB,
    "mb": MB,
    "gb": GB,
    "tb": TB,
    "pb": 10**15,
    "kib": KIB,
    "mib": MIB,
    "gib": GIB,
    "tib": TIB,
    "pib": 1 << 50,
}
# NOTE: single-letter units are refused. Docker reads "24g" as 24 GiB, Kubernetes reads
# "24G" as 24 * 10**9: for a fit check the 7% between them matters, so the user must say.
_AMBIGUOUS = {"k", "m", "g", "t", "p", "ki", "mi", "gi", "ti", "pi"}
_SIZE = re.compile(r"^(?P<number>[+-]?\d+(?:\.\d+)?|[+-]?\.\d+)\s*(?P<unit>[a-zA-Z]*)$")


def parse_size(text: str | int) -> int:
    """Bytes in ``text``: ``"24GiB"``, ``"24 GB"``, ``"1.5 TiB"``, ``"25769803776"`` or an int.

    Units are case-insensitive (``gb`` and ``GB`` are both 10**9 bytes; a lowercase ``b``
    is read as bytes, never bits). Raises :class:`SizeError` for negatives, fractions of a
    byte, single-letter units (``24g``), unknown units, and sizes above 1 PiB.
    """
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise SizeError(f"a size must be text or an integer, not {type(text).__name__}")
    if isinstance(text, int):
        return _checked(text, str(text))
    raw = text.strip()
    match = _SIZE.match(raw)
    if not match:
        raise SizeError(f"cannot read '{text}' as a size: write e.g. 24GiB, 24GB or a byte count")
    unit = match["unit"].lower()
    if unit in _AMBIGUOUS:
        raise SizeError(
            f"'{text}' is ambiguous: write {match['number']}{unit[0].upper()}iB (binary, 2**n) "
            f"or {match['number']}{unit[0].upper()}B (decimal, 10**n)"
        )
    if unit not in _UNITS:
        raise SizeError(
            f"unknown unit '{match['unit']}' in '{text}': use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB"
        )
    try:
        number = Decimal(match["number"])
    except InvalidOperation:  # pragma: no cover - the pattern only lets numbers through
        raise SizeError(f"cannot read '{text}' as a size") from None
    if number < 0:
        raise SizeError(f"a size cannot be negative: '{text}'")
    value = number * _UNITS[unit]
    if value != value.to_integral_value():
        raise SizeError(f"'{text}' is not a whole number of bytes")
    return _checked(int(value), text)


def _checked(value: int, text: str) -> int:
    if value < 0:
        raise SizeError(f"a size cannot be negative: '{text}'")
    if value > MAX_SIZE_BYTES:
        raise SizeError(f"'{text}' is larger than 1 PiB; check the unit")
    return value


def format_gib(n_bytes: int, digits: int = 2) -> str:
    """``n_bytes`` in GiB with ``digits`` decimals: ``format_gib(25769803776) == '24.00 GiB'``."""
    return f"{n_bytes / GIB:.{digits}f} GiB"


def to_gib(n_bytes: int | None) -> float | None:
    """``n_bytes`` as a float number of GiB for tables and charts (``None`` stays ``None``)."""
    return None if n_bytes is None else n_bytes / GIB


def format_short(n_bytes: int) -> str:
    """Bytes as a short MiB/GiB string for derivation rules: ``'4.00 GiB'``, ``'512 MiB'``, ``'1.50 MiB'``, ``'1,024 B'``."""
    if n_bytes >= GIB:
        return f"{n_bytes / GIB:.2f} GiB"
    if n_bytes >= MIB:
        return f"{n_bytes / MIB:.2f} MiB".replace(".00 MiB", " MiB")
    return f"{n_bytes:,} B"


def format_gb(n_bytes: int, digits: int = 2) -> str:
    """``n_bytes`` in decimal GB (how vendors label cards): ``format_gb(24 * 10**9) == '24.00 GB'``."""
    return f"{n_bytes / GB:.{digits}f} GB"


def format_size(n_bytes: int, digits: int = 2) -> str:
    """``n_bytes`` in the largest binary unit that keeps the number at least 1: ``'512.00 MiB'``."""
    if n_bytes < 0:
        return "-" + format_size(-n_bytes, digits)
    for unit, size in (("TiB", TIB), ("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if n_bytes >= size:
            return f"{n_bytes / size:.{digits}f} {unit}"
    return f"{n_bytes} B"


def format_bandwidth(bytes_per_s: int) -> str:
    """Bandwidth the way vendors print it, decimal: ``format_bandwidth(1008 * 10**9) == '1008 GB/s'``."""
    if bytes_per_s >= TB * 10:
        return f"{bytes_per_s / TB:.1f} TB/s"
    return f"{bytes_per_s / GB:.0f} GB/s"
