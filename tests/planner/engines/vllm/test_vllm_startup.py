"""vLLM v0.19 start-up rules, each against the source it cites (vllm-project/vllm)."""

import pytest

from planner.engines.vllm import startup as vllm
from planner.formats.registry import parse_format
from planner.memory.startup import ServerSettings
from planner.resolve import load_model

GIB = 1 << 30
H100 = round(79.19 * GIB)  # cudaMemGetInfo total of an H100 80GB (llm-d v0.19 report)


def test_batch_defaults_follow_get_batch_defaults():
    # arg_utils.py: >= 70 GiB and not an A100 -> OPENAI_API_SERVER 8192 tokens, 1024 seqs; else 2048, 256
    assert vllm.batch_defaults(H100, "NVIDIA H100 80GB HBM3") == (8192, 1024)
    assert vllm.batch_defaults(round(79.15 * GIB), "NVIDIA A100-SXM4-80GB") == (2048, 256)
    assert vllm.batch_defaults(round(23.6 * GIB), "NVIDIA GeForce RTX 4090") == (2048, 256)


def test_kv_pool_is_utilization_of_total_less_weights_peak_and_non_torch():
    spec = load_model("meta-llama/Llama-3.1-8B-Instruct")
    st = vllm.startup(spec, parse_format("bf16"), H100, ServerSettings(gpu_memory_utilization=0.95))
    assert st.budget.bytes == int(H100 * 0.95)
    assert st.kv_pool_bytes == st.budget.bytes - st.weights.bytes - st.profile_peak.bytes - st.non_torch.bytes
    # kv_cache_utils.py: num_blocks = available // page_size // num_layers, tokens = blocks x 16
    page = 16 * 8 * 128 * 2 * 2
    assert st.kv_tokens == st.kv_pool_bytes // page // 32 * 16
    assert st.outside_budget.parts["cuda_graphs"] > 0  # captured after the KV cache (v0.19)


def test_kv_cache_memory_overrides_the_budget_and_eager_drops_graphs():
    spec = load_model("meta-llama/Llama-3.1-8B-Instruct")
    st = vllm.startup(
        spec, parse_format("bf16"), H100, ServerSettings(kv_cache_memory=10 * GIB, enforce_eager=True)
    )
    assert st.kv_pool_bytes == 10 * GIB
    assert st.cuda_graphs.bytes == 0 and st.outside_budget.parts["cuda_graphs"] == 0
    assert any("--kv-cache-memory" in n for n in st.notes)


def test_cudagraph_profiling_takes_graphs_out_of_the_budget():
    spec = load_model("meta-llama/Llama-3.1-8B-Instruct")
    old = vllm.startup(spec, parse_format("bf16"), H100)
    new = vllm.startup(spec, parse_format("bf16"), H100, cudagraph_profiling=True)
    assert old.kv_pool_bytes - new.kv_pool_bytes == old.cuda_graphs.bytes


def test_refuses_to_start_without_kv_memory():
    spec = load_model("meta-llama/Llama-3.1-70B-Instruct")
    st = vllm.startup(spec, parse_format("bf16"), H100)
    assert not st.starts and any("refuse to start" in n for n in st.notes)
    st8 = vllm.startup(spec, parse_format("bf16"), H100, ServerSettings(tensor_parallel=4))
    assert st8.starts and st8.kv_tokens > 100_000


def test_fp8_kv_halves_bytes_per_token():
    spec = load_model("meta-llama/Llama-3.1-8B-Instruct")
    auto = vllm.startup(spec, parse_format("bf16"), H100)
    fp8 = vllm.startup(spec, parse_format("bf16"), H100, ServerSettings(kv_cache_dtype="fp8"))
    assert fp8.kv_bytes_per_token * 2 == auto.kv_bytes_per_token
    assert fp8.kv_tokens == pytest.approx(2 * auto.kv_tokens, abs=16)


def test_launch_args_enforce_the_plan():
    s = ServerSettings(tensor_parallel=2, max_model_len=32768, kv_cache_dtype="fp8", enforce_eager=True)
    args, env = vllm.launch_args("Qwen/Qwen3-8B", s, fmt_id="fp8")
    assert args[:3] == ["vllm", "serve", "Qwen/Qwen3-8B"] and env == {}
    for flag, value in (
        ("--max-model-len", "32768"),
        ("--gpu-memory-utilization", "0.9"),
        ("--tensor-parallel-size", "2"),
        ("--kv-cache-dtype", "fp8"),
        ("--quantization", "fp8"),
    ):
        assert args[args.index(flag) + 1] == value
    assert "--enforce-eager" in args
