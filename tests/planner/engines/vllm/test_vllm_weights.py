"""vLLM v0.19 weights after loading, against vllm/model_executor/layers/quantization/mxfp4.py and the rotary cache."""

import pytest

from planner.engines.tensor_parallel import kv_bytes_per_token
from planner.engines.vllm import weights as vw
from planner.formats.registry import parse_format
from planner.resolve import load_model

GIB = 1 << 30


def test_mxfp4_backend_follows_get_mxfp4_backend():
    # mxfp4.py: SM100 + FlashInfer -> FlashInfer BF16; SM90 -> triton_kernels; else Marlin
    assert vw.mxfp4_backend((9, 0)) == "triton"
    assert vw.mxfp4_backend((10, 0)) == "flashinfer-sm100"
    for cc in ((8, 0), (8, 6), (8, 9), (12, 0), None):
        assert vw.mxfp4_backend(cc) == "marlin"


def test_marlin_pads_gpt_oss_experts_as_create_weights_does():
    # Mxfp4MoEMethod.create_weights, Marlin: intermediate round_up(2880, 128) = 2944, hidden
    # round_up(2880, 256) = 3072; w13 [E, 2*2944, 3072//2] + scale [E, 2*2944, 3072//32] uint8,
    # w2 [E, 3072, 2944//2] + scale [E, 3072, 2944//32], biases bf16 [E, 2*2944] and [E, 3072].
    spec = load_model("openai/gpt-oss-120b")
    plan = vw.weights(spec, parse_format("mxfp4"), backend="marlin")
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
    plan = vw.weights(spec, parse_format("bf16"))
    assert plan.parts["rotary_cos_sin_cache"] == 131072 * 128 * 2
    assert vw.weights(spec, parse_format("fp32")).parts["rotary_cos_sin_cache"] == 131072 * 128 * 4


def test_tensor_parallel_splits_weights_and_replicates_kv_heads():
    spec = load_model("Qwen/Qwen2.5-7B-Instruct")  # 4 KV heads
    whole = vw.weights(spec, parse_format("bf16")).checkpoint_bytes
    two = vw.weights(spec, parse_format("bf16"), tp=2).checkpoint_bytes
    assert whole / 2 < two < whole / 2 * 1.01  # norms and biases replicated
    # QKVParallelLinear: tp >= kv heads -> one whole head per rank
    assert kv_bytes_per_token(spec, 2, 8) == kv_bytes_per_token(spec, 2, 4) == 28 * 1 * 128 * 2 * 2
