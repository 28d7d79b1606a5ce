"""Quantization formats: how each tensor role is stored, in exact bytes.

Importing this package registers every format module; use :func:`parse_format`.
"""

from __future__ import annotations

import importlib
import pkgutil

from planner.formats.base import QuantFormat, TensorStorage, WeightsReport
from planner.formats.registry import FormatOptions, UnknownFormatError, format_ids, parse_format

__all__ = [
    "FormatOptions",
    "QuantFormat",
    "TensorStorage",
    "UnknownFormatError",
    "WeightsReport",
    "format_ids",
    "parse_format",
]

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in ("base", "registry"):
        importlib.import_module(f"{__name__}.{_module.name}")
