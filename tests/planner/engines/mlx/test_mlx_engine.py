"""The MLX engine against mlx-lm v0.31.3's cache code (mlx_lm/models/cache.py) and the mx.quantize layout.

Hand derivations: KVCache grows in 256-token steps; RotatingKVCache keeps ``max_size`` = the
sliding window for gemma3/gpt-oss sliding layers (gemma2 and phi3 keep full caches in mlx-lm);
QuantizedKVCache stores ``bits`` per value plus an fp16 scale and bias per 64 values.
"""

import pytest

from planner.engines import estimate, get_engine
from planner.formats import parse_format
from planner.memory.estimate import RunSettings, SettingsError


@pytest.fixture(scope="module")
def mlx4():
    return parse_format("mlx-4bit")


def _est(catalog, model, fmt, **kw):
    return estimate(catalog[model].spec(), fmt, "mlx", RunSettings(**kw))


def test_kv_grows_in_256_token_steps(catalog, mlx4):
    est = _est(catalog, "meta-llama/Llama-3.1-8B-Instruct", mlx4, context=1000)
    # pad(1000, 256) = 1024 slots x 32 layers x 8 KV heads x 128 x (K + V) x 2 B
    assert est.kv_cache.bytes == 1024 * 32 * 8 * 128 * 2 * 2
    assert (
        _est(catalog, "meta-llama/Llama-3.1-8B-Instruct", mlx4, context=1024).kv_cache.bytes
        == est.kv_cache.bytes
    )


def test_gemma3_sliding_layers_rotate_at_the_window(catalog, mlx4):
    spec = catalog["google/gemma-3-4b-it"].spec()
    est = estimate(spec, mlx4, "mlx", RunSettings(context=8192))
    # 34 layers: 5 global (KVCache, 8192 slots) + 29 sliding (RotatingKVCache(max_size=1024)); 4 KV heads x 256
    row = 4 * 256 * 2 * 2
    assert est.kv_cache.bytes == 5 * 8192 * row + 29 * 1024 * row
    # a prefill chunk of 2048 briefly holds window + 2047 in each sliding layer
    assert est.activations.parts["rotating_cache_overhang"] == 29 * 2047 * row


def test_gemma2_keeps_full_caches_in_mlx_lm(catalog, mlx4):
    est = _est(catalog, "google/gemma-2-2b-it", mlx4, context=8192)
    # gemma2.py has no make_cache: 26 layers x 8192 slots x 4 KV heads x 256 x 2 x 2 B, sliding or not
    assert est.kv_cache.bytes == 26 * 8192 * 4 * 256 * 2 * 2


def test_quantized_cache_bytes(catalog, mlx4):
    est = _est(
        catalog, "meta-llama/Llama-3.1-8B-Instruct", mlx4, context=4096, kv_dtype_k="q8", kv_dtype_v="q8"
    )
    # 8-bit: 64 bytes of codes + fp16 scale + fp16 bias per 64 values
    per_row = 1024 // 64 * (64 + 4)
    assert est.kv_cache.bytes == 4096 * 32 * per_row * 2
    q4 = _est(
        catalog, "meta-llama/Llama-3.1-8B-Instruct", mlx4, context=4096, kv_dtype_k="q4", kv_dtype_v="q4"
    )
    assert q4.kv_cache.bytes == 4096 * 32 * (1024 // 64 * (32 + 4)) * 2


def test_rotating_caches_cannot_be_quantized(catalog, mlx4):
    with pytest.raises(SettingsError, match="RotatingKVCache Quantization NYI"):
        _est(catalog, "google/gemma-3-4b-it", mlx4, kv_dtype_k="q8", kv_dtype_v="q8")
    with pytest.raises(SettingsError, match="valid: auto, bf16"):
        _est(catalog, "meta-llama/Llama-3.1-8B-Instruct", mlx4, kv_dtype_k="q8_0", kv_dtype_v="q8_0")


def test_mla_latent_for_v3_expanded_heads_for_v2(catalog, mlx4):
    v2 = catalog["deepseek-ai/DeepSeek-V2-Lite"].spec()
    est = estimate(v2, mlx4, "mlx", RunSettings(context=256))
    # deepseek_v2.py caches per-head keys (nope 128 + rope 64) and values (128) for 16 heads, 27 layers
    assert est.kv_cache.bytes == 256 * 27 * 16 * (192 + 128) * 2
    v3 = catalog["deepseek-ai/DeepSeek-V3"].spec()
    est3 = estimate(v3, parse_format("mlx-4bit"), "mlx", RunSettings(context=256))
    # deepseek_v3.py caches the normed latent (512) and the rope key (64): 61 layers
    assert est3.kv_cache.bytes == 256 * 61 * (512 + 64) * 2


def test_dsa_models_cache_the_indexer_keys_and_ignore_kv_bits(catalog, mlx4):
    """deepseek_v32.py make_cache: CacheList(KVCache(), KVCache()) per layer, the second holding the indexer's
    keys [B, 1, slots, index_head_dim] (values of width 0); CacheList has no to_quantized, so
    maybe_quantize_kv_cache leaves it in bf16 whatever --kv-bits says."""
    est = _est(catalog, "deepseek-ai/DeepSeek-V3.2", mlx4, context=30000)
    # 61 layers x pad(30000, 256) = 30,208 slots x (512 latent + 64 rope + 128 indexer key) x 2 B
    assert est.kv_cache.bytes == 61 * 30208 * (512 + 64 + 128) * 2
    q8 = _est(catalog, "deepseek-ai/DeepSeek-V3.2", mlx4, context=30000, kv_dtype_k="q8", kv_dtype_v="q8")
    assert q8.kv_cache.bytes == est.kv_cache.bytes and q8.kv_dtype == "bf16"
    assert any("CacheList" in n for n in q8.notes)


def test_unified_memory_no_host_side_and_vision_dropped(catalog, mlx4):
    spec = catalog["google/gemma-3-4b-it"].spec()
    est = estimate(spec, mlx4, "mlx", RunSettings())
    assert est.host_total == 0
    text = sum(
        t.bytes for t in mlx4.weights(spec).tensors if t.group.role.value not in ("vision", "projector")
    )
    assert est.weights.bytes == text
    assert not est.activations.exact and not est.overhead.exact


def test_loads_its_formats_and_16_bit():
    mlx = get_engine("mlx")
    assert mlx.loads(parse_format("mlx-4bit")) and mlx.loads(parse_format("bf16"))
    assert not mlx.loads(parse_format("q4_k_m"))
    assert "mlx-4bit" in mlx.format_hint(parse_format("q4_k_m"))
    assert "mlx-mxfp4" in mlx.format_hint(parse_format("mxfp4"))


def test_no_margin_on_the_working_set():
    from planner.fit import budget_from_gpu
    from planner.hardware import load_gpus

    apple = next(g for g in load_gpus() if g.vendor == "apple")
    budget = budget_from_gpu(apple.id)
    allowance = budget.allowance("mlx")
    assert allowance.margin_bytes == (0,)
    assert allowance.usable_bytes == (budget.devices[0].capacity_bytes,)
