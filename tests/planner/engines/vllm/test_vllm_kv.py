"""vLLM's KV cache per layer: 16-token pages, sliding pages, the MLA latent, Mamba pages and hybrid groups."""

from planner.catalog import load_catalog
from planner.engines.vllm.kv import vllm_cache
from planner.memory import kv

KIB = 1 << 10
BF16, FP16, FP8 = kv.cache_type("bf16"), kv.cache_type("f16"), kv.cache_type("fp8")


def spec_of(model_id):
    return load_catalog()[model_id].spec()


def test_llama_31_8b_pages_of_16_tokens():
    spec = spec_of("meta-llama/Llama-3.1-8B-Instruct")
    # one 16-token block per layer: page = 2 * 16 * 8 * 128 * 2 B = 64 KiB (AttentionSpec.real_page_size_bytes)
    layers, _, layout = vllm_cache(spec, FP16, FP16, 16, 1, 2048)
    assert layers[0].bytes == 64 * KIB and layout.attn_block == 16
    assert sum(layer.bytes for layer in layers) == 16 * 128 * KIB
    # 1000 tokens -> cdiv(1000, 16) = 63 blocks = 1008 token slots
    assert sum(x.bytes for x in vllm_cache(spec, FP16, FP16, 1000, 1, 2048)[0]) == 1008 * 128 * KIB


def test_batch_multiplies_sequences():
    spec = spec_of("meta-llama/Llama-3.1-8B-Instruct")
    # 4096 tokens = 256 blocks per request, 128 KiB per token at bf16
    assert sum(x.bytes for x in vllm_cache(spec, BF16, BF16, 4096, 1, 2048)[0]) == 4096 * 128 * KIB
    assert sum(x.bytes for x in vllm_cache(spec, BF16, BF16, 4096, 4, 2048)[0]) == 4 * 4096 * 128 * KIB


def test_deepseek_v3_mla_latent():
    spec = spec_of("deepseek-ai/DeepSeek-V3")
    expected = 61 * 32768 * 576 * 2  # MLAAttentionSpec: block x 1 x 576 x 2 B
    layers, _, _ = vllm_cache(spec, BF16, BF16, 32768, 1, 2048)
    assert sum(x.bytes for x in layers) == expected
    layers, _, _ = vllm_cache(spec, FP8, BF16, 32768, 1, 2048)
    assert sum(x.bytes for x in layers) == expected // 2


def test_gemma3_sliding_pages_and_hybrid_group_padding():
    spec = spec_of("google/gemma-3-27b-it")
    per_token = 16 * 128 * 2 * 2
    # (cdiv(min(1023 + 2048, 32768), 16) + 1) = 193 blocks; groups of 10 layers pad sliding 52 -> 60
    layers, lines, layout = vllm_cache(spec, BF16, BF16, 32768, 1, 2048)
    fig = kv.cache_figure(layers, lines, keys=(), source="")
    assert fig.parts == {
        "sliding": 52 * 193 * 16 * per_token,
        "full": 10 * 2048 * 16 * per_token,
        "group_padding": 8 * 193 * 16 * per_token,
    }
    assert layout.group_size == 10 and layout.padded_layers == {"sliding": 60, "full": 10}
    assert fig.bytes == sum(fig.parts.values())


def test_gpt_oss_sliding_pages_without_padding():
    spec = spec_of("openai/gpt-oss-20b")
    per_token = 8 * 64 * 2 * 2
    # cdiv(min(127 + 2048, 8192), 16) + 1 = 137 blocks; 12 + 12 layers need no padding
    layers, _, layout = vllm_cache(spec, BF16, BF16, 8192, 1, 2048)
    parts = kv.cache_figure(layers, [], keys=(), source="").parts
    assert parts == {"sliding": 12 * 137 * 16 * per_token, "full": 12 * 512 * 16 * per_token}
    assert layout.group_size == 12


def test_granite_h_small_mamba_page_raises_the_attention_block():
    spec = spec_of("ibm-granite/granite-4.0-h-small")
    # Mamba page = 3 * 8448 * 2 + 128 * 64 * 128 * 2 = 2,147,840 B; attention block raised to
    # 16 * cdiv(2147840, 16 * 4096) = 528 tokens; Mamba page padded to 528 * 4096 B
    layers, lines, layout = vllm_cache(spec, BF16, BF16, 4096, 1, 2048)
    assert layout.attn_block == 528 and layout.mamba_page == 528 * 4096
    parts = kv.cache_figure(layers, lines, keys=(), source="").parts
    assert parts["linear"] == 36 * 528 * 4096
    assert parts["full"] == 4 * 8 * 528 * 4096  # cdiv(4096, 528) = 8 blocks
    assert any("528 tokens" in line for line in lines)
