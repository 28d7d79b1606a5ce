"""The serving engines' start-up flags: parsed once (planner.request), named in errors, carried to the settings."""

import pytest

from planner.cli import build_parser, main
from planner.cli.args import request_from_args
from planner.request import PlanRequest, RequestError, resolve_budget, resolve_settings

GIB = 1 << 30


def _args(*argv):
    return build_parser().parse_args(["estimate", "--model", "Qwen/Qwen3-8B", "--format", "bf16", *argv])


def test_flags_reach_the_run_settings():
    args = _args(
        "--max-num-seqs", "512", "--kv-cache-memory", "20GiB", "--enforce-eager",
        "--mem-fraction-static", "0.8", "--free-gpu-memory-fraction", "0.7",
    )  # fmt: skip
    settings = resolve_settings(request_from_args(args))
    assert settings.max_num_seqs == 512
    assert settings.kv_cache_memory == 20 * GIB
    assert settings.enforce_eager is True
    assert settings.mem_fraction_static == 0.8 and settings.free_gpu_memory_fraction == 0.7


def test_kv_cache_memory_takes_bytes_like_vllm():
    assert PlanRequest.from_params({"kv-cache-memory": "21474836480"}).kv_cache_memory == 20 * GIB
    with pytest.raises(RequestError, match="kv-cache-memory"):
        PlanRequest.from_params({"kv-cache-memory": "lots"})


def test_tensor_parallel_sets_the_gpu_count():
    budget = resolve_budget(PlanRequest(gpu="h100-sxm", tensor_parallel=4))
    assert budget.count == 4
    assert resolve_budget(PlanRequest(gpu="h100-sxm", tensor_parallel=2, gpus=2)).count == 2
    with pytest.raises(RequestError) as exc:
        resolve_budget(PlanRequest(gpu="h100-sxm", tensor_parallel=2, gpus=3))
    assert exc.value.parameter == "tensor_parallel"


def test_bad_values_name_the_flag(capsys):
    for argv, flag in (
        (["--mem-fraction-static", "1.5"], "--mem-fraction-static"),
        (["--free-gpu-memory-fraction", "0"], "--free-gpu-memory-fraction"),
        (["-tp", "0"], "--tensor-parallel"),
        (["--max-num-seqs", "x"], "--max-num-seqs"),
    ):
        assert main(["estimate", "--model", "Qwen/Qwen3-8B", "--format", "bf16", *argv]) == 2
        assert flag in capsys.readouterr().err


def test_estimate_json_has_the_startup_and_the_launch_command(capsys):
    base = ["estimate", "--model", "Qwen/Qwen3-8B", "--format", "bf16", "--json", "--offline"]
    assert main([*base, "--engine", "vllm", "--gpu", "h100-sxm", "-tp", "2"]) == 0
    d = __import__("json").loads(capsys.readouterr().out)
    assert d["launch"]["command"].startswith("vllm serve Qwen/Qwen3-8B")
    assert "--tensor-parallel-size 2" in d["launch"]["command"] and d["launch"]["env"] == {}
    st = d["startup"]
    assert st["engine"] == "vllm" and st["tensor_parallel"] == 2 and st["kv_tokens"] > 0
    assert st["budget"]["bytes"] == int(85_520_809_984 * 0.9)  # utilization x the catalog's total
    assert main([*base, "--engine", "trtllm"]) == 0  # no GPU: no start-up, a command all the same
    d = __import__("json").loads(capsys.readouterr().out)
    assert d["startup"] is None and d["launch"]["command"].startswith("trtllm-serve Qwen/Qwen3-8B")
    assert main(["estimate", "--model", "Qwen/Qwen3-8B", "--format", "q4_k_m", "--json", "--offline"]) == 0
    assert __import__("json").loads(capsys.readouterr().out)["launch"] is None  # llama.cpp: issue 14


def test_estimate_text_shows_the_startup_as_an_estimate(capsys):
    argv = [
        "estimate",
        "--model",
        "Qwen/Qwen3-8B",
        "--format",
        "bf16",
        "--engine",
        "sglang",
        "--gpu",
        "h100-sxm",
    ]
    assert main([*argv, "--offline"]) == 0
    out = capsys.readouterr().out
    assert "start-up (SGLang" in out and "estimate)" in out and "KV pool" in out
    assert "launch: python -m sglang.launch_server" in out
