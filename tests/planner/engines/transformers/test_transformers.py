"""transformers: all weights on the GPU, DynamicCache bytes, the prefill activation peak and its band."""

import pytest

from planner.engines import estimate
from planner.engines.constants import constant
from planner.formats import parse_format
from planner.memory.estimate import RunSettings, SettingsError

MIB, GIB = 1 << 20, 1 << 30
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"


def run(catalog, fmt, model=LLAMA, **settings):
    return estimate(catalog[model].spec(), fmt, "transformers", RunSettings(**settings))


def test_worked_example_llama_31_8b(catalog, bf16):
    e4, e32 = run(catalog, bf16, context=4096), run(catalog, bf16, context=32768)
    assert e4.weights.bytes == 16_060_522_496 and e4.host_total == 0
    assert (e4.kv_cache.bytes, e32.kv_cache.bytes) == (512 * MIB, 4096 * MIB)
    # MLP transient dominates the prefill: act(gate), up, product = 3 x 4096 x 14336 x 2 B = 336 MiB,
    # scaled like every structural part by the calibrated activation factor
    factor = constant("transformers_activation_factor").value
    assert e4.activations.parts["mlp"] == round(3 * 4096 * 14336 * 2 * factor)
    assert e4.activations.parts["logits"] == round(128256 * (2 + 4) * factor)  # logits_to_keep=1 + fp32 copy
    assert e32.activations.bytes > 7 * e4.activations.bytes
    for e in (e4, e32):
        assert not e.activations.exact and not e.overhead.exact
        assert e.activations.band[0] <= e.activations.bytes <= e.activations.band[1]
        assert sum(e.activations.parts.values()) == e.activations.bytes
        assert sum(e.overhead.parts.values()) == e.overhead.bytes


def test_eager_attention_materializes_the_scores(catalog, bf16):
    sdpa = run(catalog, bf16, context=8192)
    eager = run(catalog, bf16, context=8192, flash_attn=False)
    scores = 32 * 8192 * 8192 * (2 + 4 + 2)  # [1, 32 heads, ctx, ctx] in bf16, fp32 softmax, cast back
    assert eager.activations.parts["attention"] > scores
    assert eager.activations.bytes > sdpa.activations.bytes + scores // 2
    assert run(catalog, bf16, context=8192, flash_attn=True).activations.bytes == sdpa.activations.bytes


def test_sliding_layers_pin_the_prompt_until_decoding(catalog, bf16):
    e = run(catalog, bf16, model="google/gemma-3-27b-it", context=32768)
    per_token = 16 * 128 * 2 * 2
    assert e.kv_cache.parts["sliding"] == 52 * 1023 * per_token
    assert e.activations.parts["sliding_prefill_retention"] == 52 * (32768 - 1023) * per_token


def test_sliding_window_mask_once_the_prompt_outgrows_the_window(catalog, bf16):
    factor = constant("transformers_activation_factor").value
    # gemma-3-27b slides over 1024 tokens: a 32k prompt at batch 2 gets one bool [2, 1, 32768, 32768] mask
    long = run(catalog, bf16, model="google/gemma-3-27b-it", context=32768, batch=2)
    assert long.activations.parts["sliding_window_mask"] == round(2 * 32768 * 32768 * factor)
    assert (
        "sliding_window_mask"
        not in run(catalog, bf16, model="google/gemma-3-27b-it", context=512).activations.parts
    )
    assert (
        "sliding_window_mask" not in run(catalog, bf16, context=32768).activations.parts
    )  # no sliding layer
    eager = run(catalog, bf16, model="google/gemma-3-27b-it", context=4096, flash_attn=False)
    assert "sliding_window_mask" not in eager.activations.parts  # eager's own scores already dominate


def test_llm_int8_matmul_temporaries(catalog):
    factor = constant("transformers_activation_factor").value
    e = run(catalog, parse_format("bnb-int8"), context=4096)
    # widest quantized linear of Llama-3.1-8B: gate/up [14336, 4096]: 4096 rows x (4 x 4096 + 6 x 14336) B
    assert e.activations.parts["int8_matmul"] == round(4096 * (4 * 4096 + 6 * 14336) * factor)
    assert "int8_matmul" not in run(catalog, parse_format("bnb-nf4"), context=4096).activations.parts


def test_mla_caches_the_latent(catalog, bf16):
    e = run(catalog, bf16, model="deepseek-ai/DeepSeek-V2-Lite", context=4096)
    assert e.kv_cache.bytes == 27 * 4096 * 576 * 2
    assert any("latent" in n for n in e.notes)


def test_hybrid_state_is_fp32(catalog, bf16):
    e = run(catalog, bf16, model="ibm-granite/granite-4.0-h-small", context=4096)
    assert e.kv_cache.parts["linear"] == 36 * (8448 * 4 * 2 + 128 * 64 * 128 * 4)


@pytest.mark.parametrize("kv", ["fp8", "q8_0", "fp32"])
def test_cache_dtype_must_be_the_model_dtype(catalog, bf16, kv):
    with pytest.raises(SettingsError, match="valid: auto, bf16"):
        run(catalog, bf16, kv_dtype_k=kv, kv_dtype_v=kv)


def test_other_engines_settings_are_noted(catalog, bf16):
    e = run(catalog, bf16, ubatch=256, gpu_layers=3)
    assert any("ubatch" in n for n in e.notes) and any("gpu-layers" in n for n in e.notes)


def test_routed_experts_follow_grouped_mm(catalog, bf16):
    """Qwen3-30B-A3B (hidden 2048, expert FFN 768, top-8): at 4,096 tokens the 32,768 token-expert
    pairs hold four [S, 2048] copies around the weighting (8192 > 2048 + 4 x 768), plus int64 sorts."""
    factor = constant("transformers_activation_factor").value
    e = run(catalog, bf16, model="Qwen/Qwen3-30B-A3B", context=4096)
    pairs = 4096 * 8
    assert e.activations.parts["moe_experts"] == round(pairs * (4 * 2048 * 2 + 3 * 8) * factor)
