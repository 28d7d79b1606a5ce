"""vLLM: 16-token KV blocks, MLA latent, hybrid models, cache dtypes, and the profile-run peak against logs."""

import pytest

from planner.engines import estimate
from planner.engines.constants import constant
from planner.memory.estimate import RunSettings, SettingsError

MIB, GIB = 1 << 20, 1 << 30
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"


def run(catalog, fmt, model=LLAMA, **settings):
    return estimate(catalog[model].spec(), fmt, "vllm", RunSettings(**settings))


# ---------------------------------------------------------------------------------------------
# published logs
# ---------------------------------------------------------------------------------------------


def test_v019_profile_peak_of_llama_3_1_8b_on_h100(catalog, bf16):
    """llm-d's vLLM v0.19.0 runs on an H100 80GB (max_num_batched_tokens 8192, max_num_seqs 1024, the
    vllm serve defaults there): Llama-3.1-8B-Instruct 'Actual activ (GiB)' 1.89, weights 14.99."""
    e = run(catalog, bf16, context=8192, gpu_name="NVIDIA H100 SXM5 80GB", gpu_memory_bytes=85_520_809_984)
    assert round(e.weights.bytes / GIB, 2) == 14.99
    # a held-out log of the calibration (data/public_logs/calibration.json): within its stated 2 %
    assert e.activations.bytes == pytest.approx(1.89 * GIB, rel=0.02)
    assert not e.activations.exact
    assert "max_num_seqs=1024" in " ".join(e.notes)


def test_weights_are_the_formats_bytes(catalog, bf16):
    spec = catalog[LLAMA].spec()
    e = run(catalog, bf16)
    # the checkpoint's bytes plus the rotary cos_sin_cache vLLM keeps as a buffer
    # (max_position_embeddings 131072 x head_dim 128 x 2 B)
    assert e.weights.bytes == spec.total_parameters * 2 + 131072 * 128 * 2 == 16_060_522_496 + 33_554_432
    assert e.weights.parts["checkpoint_share"] == 16_060_522_496
    assert e.host_total == 0


# ---------------------------------------------------------------------------------------------
# KV blocks
# ---------------------------------------------------------------------------------------------


def test_kv_uses_16_token_blocks_per_sequence(catalog, bf16):
    per_token = 128 * 1024
    assert run(catalog, bf16, context=4096).kv_cache.bytes == 4096 * per_token
    assert run(catalog, bf16, context=4097).kv_cache.bytes == 4112 * per_token  # 257 blocks
    assert run(catalog, bf16, context=4097, batch=3).kv_cache.bytes == 3 * 4112 * per_token


def test_fp8_cache_halves_the_kv(catalog, bf16):
    base = run(catalog, bf16, context=32768)
    fp8 = run(catalog, bf16, context=32768, kv_dtype_k="fp8", kv_dtype_v="fp8")
    assert fp8.kv_cache.bytes * 2 == base.kv_cache.bytes and fp8.kv_dtype == "fp8"


def test_deepseek_mla_one_576_latent_per_token(catalog, bf16):
    e = run(catalog, bf16, model="deepseek-ai/DeepSeek-V3", context=32768)
    assert e.kv_cache.bytes == 61 * 32768 * 576 * 2
    assert e.kv_cache.parts == {"mla": e.kv_cache.bytes}


def test_gpt_oss_hybrid_sliding_blocks(catalog, bf16):
    e = run(catalog, bf16, model="openai/gpt-oss-120b", context=131072)
    per_token = 8 * 64 * 2 * 2
    assert e.kv_cache.parts["full"] == 18 * 131072 * per_token
    assert e.kv_cache.parts["sliding"] == 18 * (2175 // 16 + 1 + 1) * 16 * per_token  # 137 blocks
    # vLLM's own log reports all 36 layers at full length ("GPU KV cache size" / 73,728 B per token,
    # alvarobartt/hf-mem#60); the sliding layers really hold 137 blocks each
    assert e.kv_cache.bytes < 36 * 131072 * per_token


def test_mamba_hybrid_raises_the_attention_block(catalog, bf16):
    e = run(catalog, bf16, model="ibm-granite/granite-4.0-h-small", context=131072)
    assert "528 tokens" in e.kv_cache.rule
    assert e.kv_cache.parts["linear"] == 36 * 528 * 4096
    assert e.kv_cache.parts["full"] == 4 * 249 * 528 * 4096  # cdiv(131072, 528) = 249 blocks


# ---------------------------------------------------------------------------------------------
# settings
# ---------------------------------------------------------------------------------------------


def test_k_and_v_share_one_dtype(catalog, bf16):
    with pytest.raises(SettingsError, match="one --kv-cache-dtype"):
        run(catalog, bf16, kv_dtype_k="fp8", kv_dtype_v="auto")


def test_llamacpp_cache_types_are_refused_with_the_valid_list(catalog, bf16):
    with pytest.raises(SettingsError, match="valid: auto, bf16, fp8, fp8_e4m3, fp8_e5m2"):
        run(catalog, bf16, kv_dtype_k="q8_0", kv_dtype_v="q8_0")


def test_max_num_batched_tokens_moves_the_profile_not_the_kv(catalog, bf16):
    small = run(catalog, bf16, context=32768, max_num_batched_tokens=2048)
    large = run(catalog, bf16, context=32768, max_num_batched_tokens=16384)
    assert large.activations.bytes > small.activations.bytes
    assert large.kv_cache.bytes == small.kv_cache.bytes


def test_gpu_memory_utilization_is_explained(catalog, bf16):
    e = run(catalog, bf16, gpu_memory_utilization=0.8)
    assert any("0.8" in n and "fit solver" in n for n in e.notes)


def test_overhead_is_banded_and_sourced(catalog, bf16):
    e = run(catalog, bf16)
    ctx, nt, cg = (constant(n) for n in ("cuda_context_mib", "vllm_non_torch_mib", "vllm_cudagraph_mib"))
    assert e.overhead.bytes == ctx.bytes + nt.bytes + cg.bytes
    assert not e.overhead.exact and e.overhead.band[0] < e.overhead.bytes < e.overhead.band[1]
    assert "vllm" in e.overhead.source.lower()


def test_worked_example_llama_31_8b(catalog, bf16):
    e4, e32 = run(catalog, bf16, context=4096), run(catalog, bf16, context=32768)
    assert (e4.kv_cache.bytes, e32.kv_cache.bytes) == (512 * MIB, 4096 * MIB)
    assert e4.activations.bytes == e32.activations.bytes  # the profile depends on max_num_batched_tokens only
