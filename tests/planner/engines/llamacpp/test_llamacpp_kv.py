"""llama.cpp's KV cache per layer: padded cells, SWA cells, block types, MLA without V, F32 recurrent rows."""

import pytest

from planner.catalog import load_catalog
from planner.engines.llamacpp.kv import llamacpp_cache
from planner.memory import kv
from planner.memory.estimate import SettingsError
from planner.model import model_from_config

KIB, MIB = 1 << 10, 1 << 20
FP16 = kv.cache_type("f16")


def spec_of(model_id):
    return load_catalog()[model_id].spec()


def parts(spec, k, v, ctx, batch, ubatch=512):
    return kv.cache_figure(*llamacpp_cache(spec, k, v, ctx, batch, ubatch), keys=(), source="").parts


def test_llama_31_8b_cells_are_padded_to_256():
    spec = spec_of("meta-llama/Llama-3.1-8B-Instruct")
    # 256 cells (n_ctx padded to 256) of 128 KiB; log "KV self size = 32.00 MiB" for -c 256
    layers, _ = llamacpp_cache(spec, FP16, FP16, 256, 1, 512)
    assert sum(layer.bytes for layer in layers) == 256 * 128 * KIB
    # -c 1000 -> GGML_PAD(1000, 256) = 1024 cells
    assert sum(x.bytes for x in llamacpp_cache(spec, FP16, FP16, 1000, 1, 512)[0]) == 1024 * 128 * KIB


def test_llamacpp_q8_0_keys_f16_values():
    spec = spec_of("meta-llama/Llama-3.1-8B-Instruct")
    layers, lines = llamacpp_cache(spec, kv.cache_type("q8_0"), FP16, 4096, 1, 512)
    # K row: 1024 elements = 32 blocks x 34 B = 1088 B; V row: 2048 B
    assert layers[0].k_bytes == 4096 * 1088 and layers[0].v_bytes == 4096 * 2048
    assert sum(x.bytes for x in layers) == 32 * 4096 * (1088 + 2048)
    assert "q8_0" in lines[0]


def test_llamacpp_q4_0_both():
    spec = spec_of("meta-llama/Llama-3.1-8B-Instruct")
    q4 = kv.cache_type("q4_0")
    layers, _ = llamacpp_cache(spec, q4, q4, 8192, 1, 512)
    assert sum(x.bytes for x in layers) == 32 * 8192 * 2 * (1024 // 32 * 18)  # 0.5625 B/element
    assert sum(x.bytes for x in layers) == 288 * MIB  # f16 would be 1024 MiB


def test_llamacpp_block_types_need_whole_blocks_per_head():
    tiny = {
        "model_type": "llama",
        "hidden_size": 160,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 40,
        "vocab_size": 100,
    }
    spec = model_from_config(tiny)
    with pytest.raises(SettingsError, match="head dimension 40"):
        llamacpp_cache(spec, kv.cache_type("q8_0"), FP16, 256, 1, 512)
    llamacpp_cache(spec, FP16, FP16, 256, 1, 512)  # f16 is fine


def test_deepseek_v3_mla_is_one_k_row_and_no_v():
    spec = spec_of("deepseek-ai/DeepSeek-V3")
    layers, _ = llamacpp_cache(spec, FP16, FP16, 32768, 1, 512)
    assert sum(x.bytes for x in layers) == 61 * 32768 * 576 * 2
    assert all(x.v_bytes == 0 for x in layers)  # llama.cpp: has_v = !is_mla


def test_deepseek_mla_with_quantized_k_in_llamacpp():
    spec = spec_of("deepseek-ai/DeepSeek-V3")
    layers, lines = llamacpp_cache(spec, kv.cache_type("q8_0"), kv.cache_type("q4_0"), 4096, 1, 512)
    assert sum(x.bytes for x in layers) == 61 * 4096 * (576 // 32 * 34)  # V type is irrelevant: no V
    assert "no V" in lines[0]


def test_swa_cells_are_window_plus_ubatch_padded():
    # GGML_PAD(min(32768, 1024 + 512), 256) = 1536 cells (Gemma 3 27B: 16 KV heads x 128)
    per_token = 16 * 128 * 2 * 2
    assert parts(spec_of("google/gemma-3-27b-it"), FP16, FP16, 32768, 1) == {
        "sliding": 52 * 1536 * per_token,
        "full": 10 * 32768 * per_token,
    }
    # gpt-oss-20b: GGML_PAD(128 + 512, 256) = 768 cells (8 KV heads x 64)
    per_token = 8 * 64 * 2 * 2
    assert parts(spec_of("openai/gpt-oss-20b"), FP16, FP16, 8192, 1) == {
        "sliding": 12 * 768 * per_token,
        "full": 12 * 8192 * per_token,
    }


def test_sliding_window_never_exceeds_the_context():
    short = parts(spec_of("openai/gpt-oss-20b"), FP16, FP16, 100, 1)
    assert short["sliding"] == short["full"] == 12 * 256 * 8 * 64 * 2 * 2  # both 256 cells


def test_granite_h_small_recurrent_rows_in_f32():
    # n_embd_r = (d_conv - 1) * 8448, n_embd_s = 128 x 64 x 128, F32, one row per sequence
    got = parts(spec_of("ibm-granite/granite-4.0-h-small"), FP16, FP16, 4096, 2)
    assert got["linear"] == 36 * 2 * (3 * 8448 + 128 * 64 * 128) * 4
    assert got["full"] == 4 * 2 * 4096 * 8 * 128 * 2 * 2


def test_jamba_recurrent_state_in_llamacpp():
    spec = spec_of("ai21labs/Jamba-v0.1")
    # Mamba-1: d_inner 8192, d_conv 4, d_state 16 -> r = 3 * 8192, s = 16 * 8192 (F32)
    parts = kv.cache_figure(*llamacpp_cache(spec, FP16, FP16, 16384, 1, 512), keys=(), source="").parts
    assert parts["linear"] == 28 * (3 * 8192 + 16 * 8192) * 4
    assert parts["full"] == 4 * 16384 * 8 * 128 * 2 * 2


def test_pure_mamba_has_no_context_term():
    spec = spec_of("mistralai/Mamba-Codestral-7B-v0.1")
    # config.json: 64 layers, intermediate 8192, n_groups 8, state_size 128, conv_kernel 4,
    # num_heads 128 x head_dim 64. llama.cpp (llama-model.cpp, Mamba-2): n_embd_r = (d_conv - 1) x
    # (d_inner + 2 x n_group x d_state) = 3 x 10240, n_embd_s = d_state x d_inner = 128 x 8192, both F32
    per_layer = (3 * (8192 + 2 * 8 * 128) + 128 * 8192) * 4
    assert per_layer == 4_317_184
    for context in (1024, 131072):
        assert sum(x.bytes for x in llamacpp_cache(spec, FP16, FP16, context, 1, 512)[0]) == 64 * per_layer
