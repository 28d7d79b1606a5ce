"""The TensorRT-LLM engine's estimate: formats, 32-token KV blocks, the free-memory budget note."""

import pytest

from planner.engines import estimate, get_engine
from planner.formats.registry import parse_format
from planner.memory.estimate import RunSettings, SettingsError
from planner.resolve import load_model

SPEC = load_model("meta-llama/Llama-3.1-8B-Instruct")
ENGINE = get_engine("trtllm")


def test_formats_loaded():
    for fid in ("bf16", "fp8", "awq-int4", "mxfp4"):
        assert ENGINE.loads(parse_format(fid)), fid
    for fid in ("bnb-nf4", "q4_k_m", "hqq-int4"):
        assert not ENGINE.loads(parse_format(fid)), fid


def test_kv_in_whole_32_token_blocks():
    e = estimate(SPEC, parse_format("bf16"), "trtllm", RunSettings(context=1000, batch=2))
    per_token = 32 * 8 * 128 * 2 * 2
    assert e.kv_cache.bytes == 2 * 1024 * per_token  # cdiv(1000, 32) x 32 tokens per request


def test_one_kv_type_and_the_fraction_note():
    with pytest.raises(SettingsError, match="one KV cache dtype"):
        estimate(SPEC, parse_format("bf16"), "trtllm", RunSettings(kv_dtype_k="fp8", kv_dtype_v="bf16"))
    e = estimate(SPEC, parse_format("bf16"), "trtllm", RunSettings(free_gpu_memory_fraction=0.5))
    assert any("free_gpu_memory_fraction (0.5)" in n and "not of the total" in n for n in e.notes)


def test_launch_from_run_settings():
    launch = ENGINE.launch(
        "Qwen/Qwen3-8B", parse_format("bf16"), RunSettings(context=8192), tensor_parallel=4
    )
    assert launch.argv[:4] == ("trtllm-serve", "Qwen/Qwen3-8B", "--backend", "pytorch")
    assert "--tp_size 4" in launch.command and "--max_seq_len 8192" in launch.command
