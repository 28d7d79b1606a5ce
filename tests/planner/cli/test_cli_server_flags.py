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
