"""vLLM v0.19 start-up rules, each against the source it cites (vllm-project/vllm)."""

import pytest

from planner.engines.constants import constant
from planner.formats.registry import parse_format
from planner.memory.startup import ServerSettings
from planner.resolve import load_model
from planner.serving import vllm
from planner.serving.tp import kv_bytes_per_token

GIB = 1 << 30
H100 = round(79.19 * GIB)  # cudaMemGetInfo total of an H100 80GB (llm-d v0.19 report)


def test_batch_defaults_follow_get_batch_defaults():
    # arg_utils.py: >= 70 GiB and not an A100 -> OPENAI_API_SERVER 8192 tokens, 1024 seqs; else 2048, 256
    assert vllm.batch_defaults(H100, "NVIDIA H100 80GB HBM3") == (8192, 1024)
    assert vllm.batch_defaults(round(79.15 * GIB), "NVIDIA A100-SXM4-80GB") == (2048, 256)
    assert vllm.batch_defaults(round(23.6 * GIB), "NVIDIA GeForce RTX 4090") == (2048, 256)


def test_mxfp4_backend_follows_get_mxfp4_backend():
    # mxfp4.py: SM100 + FlashInfer -> FlashInfer BF16; SM90 -> triton_kernels; else Marlin
    assert vllm.mxfp4_backend((9, 0)) == "triton"
    assert vllm.mxfp4_backend((10, 0)) == "flashinfer-sm100"
    for cc in ((8, 0), (8, 6), (8, 9), (12, 0), None):
        assert vllm.mxfp4_backend(cc) == "marlin"


def test_marlin_pads_gpt_oss_experts_as_create_weights_does():
    # Mxfp4MoEMethod.create_weights, Marlin: intermediate round_up(2880, 128) = 2944, hidden
    # round_up(2880, 256) = 3072; w13 [E, 2*2944, 3072//2] + scale [E, 2*2944, 3072//32] uint8,
    # w2 [E, 3072, 2944//2] + scale [E, 3072, 2944//32], biases bf16 [E, 2*2944] and [E, 3072].
    spec = load_model("openai/gpt-oss-120b")
    plan = vllm.weights(spec, parse_format("mxfp4"), backend="marlin")
    e, layers = 128, 36
    padded = e * (2 * 2944 * 3072 // 2 + 2 * 2944 * 3072 // 32 + 3072 * 2944 // 2 + 3072 * 2944 // 32)
    padded += e * (2 * 2944 + 3072) * 2
    ckpt = e * (2 * 2880 * 2880 // 2 + 2 * 2880 * 2880 // 32 + 2880 * 2880 // 2 + 2880 * 2880 // 32)
    ckpt += e * (2 * 2880 + 2880) * 2
    assert plan.parts["mxfp4_padding"] == pytest.approx(layers * (padded - ckpt), rel=1e-6)
    # several GiB more than the checkpoint, as vLLM logs on Hopper with Marlin (issue #23278: 65.9651 GiB)
    assert plan.bytes - plan.checkpoint_bytes > 5 * GIB
    assert plan.bytes / GIB == pytest.approx(65.9651, rel=0.005)


def test_rotary_cache_is_max_position_by_rotary_dim_in_model_dtype():
    spec = load_model("meta-llama/Llama-3.1-8B-Instruct")
    plan = vllm.weights(spec, parse_format("bf16"))
    assert plan.parts["rotary_cos_sin_cache"] == 131072 * 128 * 2
    assert vllm.weights(spec, parse_format("fp32")).parts["rotary_cos_sin_cache"] == 131072 * 128 * 4


def test_tensor_parallel_splits_weights_and_replicates_kv_heads():
    spec = load_model("Qwen/Qwen2.5-7B-Instruct")  # 4 KV heads
    whole = vllm.weights(spec, parse_format("bf16")).checkpoint_bytes
    two = vllm.weights(spec, parse_format("bf16"), tp=2).checkpoint_bytes
    assert whole / 2 < two < whole / 2 * 1.01  # norms and biases replicated
    # QKVParallelLinear: tp >= kv heads -> one whole head per rank
    assert kv_bytes_per_token(spec, 2, 8) == kv_bytes_per_token(spec, 2, 4) == 28 * 1 * 128 * 2 * 2


def test_profile_terms_follow_profile_run():
    spec = load_model("Qwen/Qwen3-30B-A3B")
    p = vllm.profile(spec, 2, tp=1, max_num_batched_tokens=8192, max_num_seqs=1024)
    c = constant("vllm_sampler_bytes_per_logit").value
    assert p.num_reqs == 1024 and p.sampler == round(1024 * 151936 * c)
    # TritonExperts.workspace_shapes: (M, topk, max(N//2, K)) + (M, topk, max(N, K)) + (M, K), N = 2 x 768
    m, topk, n, k = 8192, 8, 1536, 2048
    assert p.moe_workspace == (m * topk * max(n // 2, k) + m * topk * max(n, k) + m * k) * 2
    assert p.peak == p.moe_workspace + max(p.forward, p.hidden_kept + p.sampler)
    few = vllm.profile(spec, 2, tp=1, max_num_batched_tokens=2048, max_num_seqs=4096)
    assert few.num_reqs == 2048  # min(max_num_seqs, max_num_batched_tokens)


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
