"""The SGLang engine's estimate: the formats it loads, its per-token KV pool, its budget note."""

import pytest

from planner.engines import estimate, get_engine
from planner.formats.registry import parse_format
from planner.memory.estimate import RunSettings, SettingsError
from planner.resolve import load_model

SPEC = load_model("meta-llama/Llama-3.1-8B-Instruct")
ENGINE = get_engine("sglang")


def test_formats_loaded():
    for fid in ("bf16", "fp8", "awq-int4", "gptq-int4", "mxfp4", "bnb-nf4"):
        assert ENGINE.loads(parse_format(fid)), fid
    for fid in ("q4_k_m", "exl2-4.0", "hqq-int4"):
        assert not ENGINE.loads(parse_format(fid)), fid


def test_pool_is_per_token():
    e = estimate(SPEC, parse_format("bf16"), "sglang", RunSettings(context=1000, batch=2))
    per_token = 32 * 8 * 128 * 2 * 2  # layers x kv heads x head dim x (K, V) x bf16 (MHATokenToKVPool)
    assert e.kv_cache.bytes == 2 * 1000 * per_token
    assert e.weights.bytes == parse_format("bf16").weights(SPEC).total_bytes


def test_fp8_kv_and_one_type_for_k_and_v():
    fp8 = estimate(SPEC, parse_format("bf16"), "sglang", RunSettings(kv_dtype_k="fp8", kv_dtype_v="fp8"))
    half = estimate(SPEC, parse_format("bf16"), "sglang", RunSettings())
    assert fp8.kv_cache.bytes * 2 == half.kv_cache.bytes
    with pytest.raises(SettingsError, match="one --kv-cache-dtype"):
        estimate(SPEC, parse_format("bf16"), "sglang", RunSettings(kv_dtype_k="fp8", kv_dtype_v="bf16"))


def test_notes_name_the_budget_rule_and_ignored_flags():
    e = estimate(SPEC, parse_format("bf16"), "sglang", RunSettings(gpu_memory_utilization=0.8))
    assert any("mem_fraction_static" in n for n in e.notes)
    assert any("gpu-memory-utilization (vLLM)" in n and "ignored" in n for n in e.notes)


def test_startup_and_launch_from_run_settings():
    settings = RunSettings(context=32768, mem_fraction_static=0.8)
    st = ENGINE.startup(SPEC, parse_format("bf16"), settings, 80 << 30, tensor_parallel=2)
    assert st.engine == "sglang" and st.tensor_parallel == 2 and st.settings["mem_fraction_static"] == 0.8
    launch = ENGINE.launch(
        "meta-llama/Llama-3.1-8B-Instruct", parse_format("bf16"), settings, tensor_parallel=2
    )
    assert launch.to_dict()["command"].startswith("python -m sglang.launch_server --model-path")
    assert "--tp 2" in launch.command and "--context-length 32768" in launch.command
