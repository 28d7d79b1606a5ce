"""SGLang and TensorRT-LLM engine estimates: the formats they load, their KV pages, their budgets' notes."""

import pytest

from planner.formats.registry import parse_format
from planner.memory.estimate import RunSettings, SettingsError
from planner.resolve import load_model
from planner.serving.engines import SglangEngine, TrtllmEngine

SPEC = load_model("meta-llama/Llama-3.1-8B-Instruct")


def test_formats_loaded():
    sg, tr = SglangEngine(), TrtllmEngine()
    for fid in ("bf16", "fp8", "awq-int4", "gptq-int4", "mxfp4", "bnb-nf4"):
        assert sg.loads(parse_format(fid)), fid
    for fid in ("bf16", "fp8", "awq-int4", "mxfp4"):
        assert tr.loads(parse_format(fid)), fid
    for fid in ("q4_k_m", "exl2-4.0", "hqq-int4"):
        assert not sg.loads(parse_format(fid)) and not tr.loads(parse_format(fid))
    assert not tr.loads(parse_format("bnb-nf4"))


def test_sglang_pool_is_per_token_and_trtllm_rounds_to_32_token_blocks():
    settings = RunSettings(context=1000, batch=2)
    sg = SglangEngine().estimate(SPEC, parse_format("bf16"), settings)
    tr = TrtllmEngine().estimate(SPEC, parse_format("bf16"), settings)
    per_token = 32 * 8 * 128 * 2 * 2  # layers x kv heads x head dim x (K, V) x bf16
    assert sg.kv_cache.bytes == 2 * 1000 * per_token
    assert tr.kv_cache.bytes == 2 * 1024 * per_token  # cdiv(1000, 32) x 32
    assert sg.weights.bytes == tr.weights.bytes == parse_format("bf16").weights(SPEC).total_bytes


def test_fp8_kv_and_one_type_for_k_and_v():
    e = SglangEngine().estimate(SPEC, parse_format("bf16"), RunSettings(kv_dtype_k="fp8", kv_dtype_v="fp8"))
    half = SglangEngine().estimate(SPEC, parse_format("bf16"), RunSettings())
    assert e.kv_cache.bytes * 2 == half.kv_cache.bytes
    with pytest.raises(SettingsError, match="one --kv-cache-dtype"):
        TrtllmEngine().estimate(SPEC, parse_format("bf16"), RunSettings(kv_dtype_k="fp8", kv_dtype_v="bf16"))


def test_notes_name_each_budget_rule():
    sg = SglangEngine().estimate(SPEC, parse_format("bf16"), RunSettings())
    tr = TrtllmEngine().estimate(SPEC, parse_format("bf16"), RunSettings())
    assert any("mem_fraction_static" in n for n in sg.notes)
    assert any("free_gpu_memory_fraction" in n and "not of the total" in n for n in tr.notes)
