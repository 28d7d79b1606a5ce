"""Which quantizer makes each format, and when a format is a clear skip."""

import pytest

from verify import backends
from verify.backends import (
    UnsupportedFormat,
    backend_for,
    quantization_config,
    skip_reason,
    supported_formats,
)


def test_every_supported_format_is_a_planner_format():
    from planner.formats import parse_format

    for fid in supported_formats():
        assert parse_format(fid).id == backend_for(fid).format_id


def test_bitsandbytes_options():
    nf4 = backend_for("bnb-nf4-dq")
    assert (nf4.method, nf4.option("quant_type"), nf4.option("double_quant")) == ("bitsandbytes", "nf4", True)
    assert backend_for("bnb-fp4").option("double_quant") is False
    assert backend_for("bnb-int8").option("bits") == 8
    assert "lm_head" in nf4.kept and "experts" in nf4.kept


def test_unsupported_format():
    with pytest.raises(UnsupportedFormat, match="cannot build 'q4_k_m'"):
        backend_for("q4_k_m")


def test_fp8_needs_ada_or_hopper_and_cannot_run_forward_on_the_cpu():
    fp8 = backend_for("fp8-block")
    assert skip_reason(fp8, "cuda", (8, 0)) == "fp8-block needs compute capability 8.9+ (this GPU has 8.0)"
    assert skip_reason(fp8, "cuda", (9, 0)) is None
    assert fp8.cpu_weights and not fp8.cpu_prefill
    assert backend_for("fp8").option("block") is None  # one scale per tensor


def test_missing_package_is_a_skip(monkeypatch):
    monkeypatch.setattr(backends.importlib.util, "find_spec", lambda name: None)
    assert (
        skip_reason(backend_for("hqq-int4"), "cuda", (9, 0)) == "hqq-int4 needs hqq, which is not installed"
    )
    assert skip_reason(backend_for("bf16"), "cpu") is None


def test_quantization_configs():
    pytest.importorskip("transformers")
    assert quantization_config(backend_for("bf16")) is None
    q = quantization_config(backend_for("bnb-fp4-dq"))
    assert q.load_in_4bit and q.bnb_4bit_quant_type == "fp4" and q.bnb_4bit_use_double_quant
    assert quantization_config(backend_for("bnb-int8")).load_in_8bit
    assert quantization_config(backend_for("fp8-block")).weight_block_size == (128, 128)
