"""Shared fixtures: catalog specs and weight formats for the engine tests.

The real formats (``planner/formats``) are used when they are registered; until then a
stand-in keeps every tensor in one plain dtype, which is what bf16 safetensors and an
all-F16 GGUF store.
"""

import pytest

from planner.catalog import load_catalog
from planner.formats.base import QuantFormat, plain_storage


class PlainFormat(QuantFormat):
    """Every tensor in one plain dtype (a stand-in for ``bf16`` safetensors or an F16 GGUF)."""

    family = "dense"
    description = "every tensor in one plain dtype (test stand-in)"
    source = "test"
    nominal_bits = 16

    def __init__(self, dtype="bf16", engines=("transformers", "vllm", "llama.cpp"), family="dense"):
        self.id = dtype
        self.dtype = dtype
        self.engines = engines
        self.family = family

    def storage(self, group, spec):
        return plain_storage(group, self.dtype)


def real_or_standin(format_id):
    """The registered format ``format_id`` if the formats package has it, else the stand-in."""
    try:
        from planner.formats import parse_format

        return parse_format(format_id)
    except Exception:
        return PlainFormat(format_id if format_id in ("bf16", "fp16", "fp32") else "bf16")


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


@pytest.fixture(scope="session")
def bf16():
    return real_or_standin("bf16")


@pytest.fixture(scope="session")
def gguf_f16():
    """An all-F16 GGUF (exact bytes: 2 per parameter), run by llama.cpp."""
    return PlainFormat("fp16", engines=("llama.cpp",), family="gguf")
