"""KV cache and recurrent-state bytes by attention kind, per engine, against each engine's own rules.

Worked cases cite the rule they check; the transformers cases build tiny random models on the
CPU, run one forward with ``use_cache=True`` and compare the cache tensors' bytes exactly.
"""

import pytest

from planner.catalog import load_catalog
from planner.memory import kv
from planner.memory.estimate import SettingsError
from planner.model import model_from_config
from planner.model.spec import AttentionKind

KIB, MIB = 1 << 10, 1 << 20
BF16, FP16, FP8 = kv.cache_type("bf16"), kv.cache_type("f16"), kv.cache_type("fp8")


def spec_of(model_id):
    return load_catalog()[model_id].spec()


# ---------------------------------------------------------------------------------------------
# cache types
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "per_32"),
    # ggml-common.h: sizeof(block_q8_0) = 2 + 32, q5_1 = 2*2 + 4 + 16, q5_0 = 2 + 4 + 16,
    # q4_1 = 2*2 + 16, q4_0 = 2 + 16, iq4_nl = 2 + 16 -- bytes per 32 elements
    [
        ("q8_0", 34),
        ("q5_1", 24),
        ("q5_0", 22),
        ("q4_1", 20),
        ("q4_0", 18),
        ("iq4_nl", 18),
        ("f16", 64),
        ("f32", 128),
    ],
)
def test_block_types_at_their_true_block_size(name, per_32):
    assert kv.cache_type(name).row_bytes(32) == per_32
    assert kv.cache_type(name).row_bytes(1024) == per_32 * 32


def test_q8_0_is_34_over_32_bytes_per_element():
    assert kv.cache_type("q8_0").bytes_per_element == 34 / 32


def test_block_type_rows_must_be_whole_blocks():
    with pytest.raises(SettingsError, match="multiple of 32"):
        kv.cache_type("q4_0").row_bytes(48)


def test_aliases_and_unknown_types():
    assert kv.cache_type("F16").name == "fp16"
    assert kv.cache_type("bfloat16").name == "bf16"
    with pytest.raises(SettingsError, match="q8_0"):
        kv.cache_type("q3_k")


# ---------------------------------------------------------------------------------------------
# GQA: Llama-3.1-8B is 32 layers x 8 KV heads x 128 x (K + V) x 2 B = 128 KiB per token at fp16
# ---------------------------------------------------------------------------------------------


def test_llama_31_8b_is_128_kib_per_token_on_every_engine():
    spec = spec_of("meta-llama/Llama-3.1-8B-Instruct")
    layers, _ = kv.transformers_cache(spec, FP16, 1, 1)
    assert sum(layer.bytes for layer in layers) == 128 * KIB
    # llama.cpp: 256 cells (n_ctx padded to 256) of 128 KiB; log "KV self size = 32.00 MiB" for -c 256
    layers, _ = kv.llamacpp_cache(spec, FP16, FP16, 256, 1, 512)
    assert sum(layer.bytes for layer in layers) == 256 * 128 * KIB
    # vLLM: one 16-token block per layer: page = 2 * 16 * 8 * 128 * 2 B = 64 KiB (AttentionSpec.real_page_size_bytes)
    layers, _, layout = kv.vllm_cache(spec, FP16, FP16, 16, 1, 2048)
    assert layers[0].bytes == 64 * KIB and layout.attn_block == 16
    assert sum(layer.bytes for layer in layers) == 16 * 128 * KIB


def test_rounding_per_engine():
    spec = spec_of("meta-llama/Llama-3.1-8B-Instruct")
    per_token = 128 * KIB
    assert sum(x.bytes for x in kv.transformers_cache(spec, FP16, 1000, 1)[0]) == 1000 * per_token
    assert sum(x.bytes for x in kv.llamacpp_cache(spec, FP16, FP16, 1000, 1, 512)[0]) == 1024 * per_token
    assert (
        sum(x.bytes for x in kv.vllm_cache(spec, FP16, FP16, 1000, 1, 2048)[0]) == 1008 * per_token
    )  # 63 blocks


def test_batch_multiplies_sequences():
    spec = spec_of("meta-llama/Llama-3.1-8B-Instruct")
    one = sum(x.bytes for x in kv.vllm_cache(spec, BF16, BF16, 4096, 1, 2048)[0])
    four = sum(x.bytes for x in kv.vllm_cache(spec, BF16, BF16, 4096, 4, 2048)[0])
    assert four == 4 * one


# ---------------------------------------------------------------------------------------------
# llama.cpp quantized KV types
# ---------------------------------------------------------------------------------------------


def test_llamacpp_q8_0_keys_f16_values():
    spec = spec_of("meta-llama/Llama-3.1-8B-Instruct")
    layers, lines = kv.llamacpp_cache(spec, kv.cache_type("q8_0"), FP16, 4096, 1, 512)
    # K row: 1024 elements = 32 blocks x 34 B = 1088 B; V row: 2048 B
    assert layers[0].k_bytes == 4096 * 1088 and layers[0].v_bytes == 4096 * 2048
    assert sum(x.bytes for x in layers) == 32 * 4096 * (1088 + 2048)
    assert "q8_0" in lines[0]


def test_llamacpp_q4_0_both():
    spec = spec_of("meta-llama/Llama-3.1-8B-Instruct")
    q4 = kv.cache_type("q4_0")
    layers, _ = kv.llamacpp_cache(spec, q4, q4, 8192, 1, 512)
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
        kv.llamacpp_cache(spec, kv.cache_type("q8_0"), FP16, 256, 1, 512)
    kv.llamacpp_cache(spec, FP16, FP16, 256, 1, 512)  # f16 is fine


# ---------------------------------------------------------------------------------------------
# MLA: DeepSeek-V3, 61 layers, latent = kv_lora_rank 512 + rope 64 = 576
# ---------------------------------------------------------------------------------------------


def test_deepseek_v3_mla_latent_per_engine():
    spec = spec_of("deepseek-ai/DeepSeek-V3")
    assert {x.latent_dim for x in spec.layers} == {576} and spec.num_layers == 61
    ctx = 32768
    expected = 61 * ctx * 576 * 2  # 2.14 GiB, vs 61 x 128 heads x (192 + 128) x 2 B = 149 GiB expanded
    assert sum(x.bytes for x in kv.transformers_cache(spec, BF16, ctx, 1)[0]) == expected
    layers, _ = kv.llamacpp_cache(spec, FP16, FP16, ctx, 1, 512)
    assert sum(x.bytes for x in layers) == expected
    assert all(x.v_bytes == 0 for x in layers)  # llama.cpp: has_v = !is_mla
    layers, _, _ = kv.vllm_cache(spec, BF16, BF16, ctx, 1, 2048)  # MLAAttentionSpec: block x 1 x 576 x 2
    assert sum(x.bytes for x in layers) == expected
    layers, _, _ = kv.vllm_cache(spec, FP8, BF16, ctx, 1, 2048)
    assert sum(x.bytes for x in layers) == expected // 2


def test_deepseek_mla_with_quantized_k_in_llamacpp():
    spec = spec_of("deepseek-ai/DeepSeek-V3")
    layers, lines = kv.llamacpp_cache(spec, kv.cache_type("q8_0"), kv.cache_type("q4_0"), 4096, 1, 512)
    assert sum(x.bytes for x in layers) == 61 * 4096 * (576 // 32 * 34)  # V type is irrelevant: no V
    assert "no V" in lines[0]


# ---------------------------------------------------------------------------------------------
# sliding window: Gemma 3 27B (52 sliding of 1024 + 10 full), gpt-oss-20b (12 of 128 + 12 full)
# ---------------------------------------------------------------------------------------------


def test_gemma3_sliding_layers_per_engine():
    spec = spec_of("google/gemma-3-27b-it")
    sliding = [x for x in spec.layers if x.attention is AttentionKind.SLIDING]
    assert len(sliding) == 52 and {x.window for x in sliding} == {1024}
    per_token = 16 * 128 * 2 * 2  # 16 KV heads x 128 x (K + V) x bf16
    ctx = 32768
    # transformers: DynamicSlidingWindowLayer keeps window - 1 = 1023 tokens
    fig = kv.cache_figure(*kv.transformers_cache(spec, BF16, ctx, 1), keys=(), source="")
    assert fig.parts == {"sliding": 52 * 1023 * per_token, "full": 10 * ctx * per_token}
    # llama.cpp: GGML_PAD(min(32768, 1024 + 512), 256) = 1536 cells
    fig = kv.cache_figure(*kv.llamacpp_cache(spec, FP16, FP16, ctx, 1, 512), keys=(), source="")
    assert fig.parts == {"sliding": 52 * 1536 * per_token, "full": 10 * ctx * per_token}
    # vLLM: (cdiv(min(1023 + 2048, 32768), 16) + 1) = 193 blocks; groups of 10 layers pad sliding 52 -> 60
    layers, lines, layout = kv.vllm_cache(spec, BF16, BF16, ctx, 1, 2048)
    fig = kv.cache_figure(layers, lines, keys=(), source="")
    assert fig.parts == {
        "sliding": 52 * 193 * 16 * per_token,
        "full": 10 * 2048 * 16 * per_token,
        "group_padding": 8 * 193 * 16 * per_token,
    }
    assert layout.group_size == 10 and layout.padded_layers == {"sliding": 60, "full": 10}
    assert fig.bytes == sum(fig.parts.values())


def test_gpt_oss_sliding_layers_per_engine():
    spec = spec_of("openai/gpt-oss-20b")
    per_token = 8 * 64 * 2 * 2
    ctx = 8192
    parts = kv.cache_figure(*kv.transformers_cache(spec, BF16, ctx, 1), keys=(), source="").parts
    assert parts == {"sliding": 12 * 127 * per_token, "full": 12 * ctx * per_token}
    # llama.cpp: GGML_PAD(128 + 512, 256) = 768 cells
    parts = kv.cache_figure(*kv.llamacpp_cache(spec, FP16, FP16, ctx, 1, 512), keys=(), source="").parts
    assert parts == {"sliding": 12 * 768 * per_token, "full": 12 * ctx * per_token}
    # vLLM: cdiv(min(127 + 2048, 8192), 16) + 1 = 137 blocks; 12 + 12 layers need no padding
    layers, _, layout = kv.vllm_cache(spec, BF16, BF16, ctx, 1, 2048)
    parts = kv.cache_figure(layers, [], keys=(), source="").parts
    assert parts == {"sliding": 12 * 137 * 16 * per_token, "full": 12 * 512 * 16 * per_token}
    assert layout.group_size == 12


def test_sliding_window_never_exceeds_the_context():
    spec = spec_of("openai/gpt-oss-20b")
    short = kv.cache_figure(*kv.llamacpp_cache(spec, FP16, FP16, 100, 1, 512), keys=(), source="").parts
    assert short["sliding"] == short["full"]  # both 256 cells
    t = kv.cache_figure(*kv.transformers_cache(spec, BF16, 50, 1), keys=(), source="").parts
    assert t["sliding"] == t["full"]


# ---------------------------------------------------------------------------------------------
# hybrid: granite-4.0-h-small (36 Mamba-2 + 4 attention), Jamba (28 Mamba + 4 attention)
# ---------------------------------------------------------------------------------------------


def test_granite_h_small_recurrent_state_per_engine():
    spec = spec_of("ibm-granite/granite-4.0-h-small")
    geo = [g for g in kv.layer_geometry(spec) if g.kind is AttentionKind.LINEAR]
    assert len(geo) == 36 and {(g.conv_channels, g.conv_kernel) for g in geo} == {(8448, 4)}
    ssm = 128 * 64 * 128  # mamba_n_heads x mamba_d_head x mamba_d_state
    assert {g.ssm_elements for g in geo} == {ssm}
    # transformers: conv [b, 8448, 4] in bf16 + SSM state in fp32
    parts = kv.cache_figure(*kv.transformers_cache(spec, BF16, 4096, 2), keys=(), source="").parts
    assert parts["linear"] == 36 * 2 * (8448 * 4 * 2 + ssm * 4)
    # llama.cpp: n_embd_r = (d_conv - 1) * 8448, n_embd_s = ssm, F32, one row per sequence
    parts = kv.cache_figure(*kv.llamacpp_cache(spec, FP16, FP16, 4096, 2, 512), keys=(), source="").parts
    assert parts["linear"] == 36 * 2 * (3 * 8448 + ssm) * 4
    assert parts["full"] == 4 * 2 * 4096 * 8 * 128 * 2 * 2
    # vLLM: Mamba page = 3 * 8448 * 2 + ssm * 2 = 2,147,840 B; attention block raised to
    # 16 * cdiv(2147840, 16 * 4096) = 528 tokens; Mamba page padded to 528 * 4096 B
    layers, lines, layout = kv.vllm_cache(spec, BF16, BF16, 4096, 1, 2048)
    assert layout.attn_block == 528 and layout.mamba_page == 528 * 4096
    parts = kv.cache_figure(layers, lines, keys=(), source="").parts
    assert parts["linear"] == 36 * 528 * 4096
    assert parts["full"] == 4 * 8 * 528 * 4096  # cdiv(4096, 528) = 8 blocks
    assert any("528 tokens" in line for line in lines)


def test_jamba_recurrent_state_in_llamacpp():
    spec = spec_of("ai21labs/Jamba-v0.1")
    # Mamba-1: d_inner 8192, d_conv 4, d_state 16 -> r = 3 * 8192, s = 16 * 8192 (F32)
    parts = kv.cache_figure(*kv.llamacpp_cache(spec, FP16, FP16, 16384, 1, 512), keys=(), source="").parts
    assert parts["linear"] == 28 * (3 * 8192 + 16 * 8192) * 4
    assert parts["full"] == 4 * 16384 * 8 * 128 * 2 * 2


def test_pure_mamba_has_no_context_term():
    spec = spec_of("mistralai/Mamba-Codestral-7B-v0.1")
    a = sum(x.bytes for x in kv.llamacpp_cache(spec, FP16, FP16, 1024, 1, 512)[0])
    b = sum(x.bytes for x in kv.llamacpp_cache(spec, FP16, FP16, 131072, 1, 512)[0])
    assert a == b > 0


# ---------------------------------------------------------------------------------------------
# transformers' own cache on the CPU (tiny random models), compared byte for byte
# ---------------------------------------------------------------------------------------------

TINY = {
    "llama-gqa": {
        "model_type": "llama",
        "hidden_size": 64,
        "intermediate_size": 96,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": 300,
    },
    "gemma3-sliding": {
        "model_type": "gemma3_text",
        "hidden_size": 64,
        "intermediate_size": 96,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "sliding_window": 4,
        "vocab_size": 300,
        "layer_types": ["sliding_attention", "sliding_attention", "full_attention"],
    },
    "deepseek-v3-mla": {
        "model_type": "deepseek_v3",
        "hidden_size": 64,
        "intermediate_size": 96,
        "moe_intermediate_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 4,
        "kv_lora_rank": 32,
        "q_lora_rank": 48,
        "qk_rope_head_dim": 8,
        "qk_nope_head_dim": 16,
        "v_head_dim": 12,
        "n_routed_experts": 4,
        "num_experts_per_tok": 2,
        "first_k_dense_replace": 1,
        "n_group": 1,
        "topk_group": 1,
        "vocab_size": 300,
    },
    "granite-hybrid": {
        "model_type": "granitemoehybrid",
        "hidden_size": 64,
        "intermediate_size": 96,
        "shared_intermediate_size": 96,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "layer_types": ["mamba", "attention", "mamba"],
        "mamba_n_heads": 8,
        "mamba_d_head": 16,
        "mamba_n_groups": 1,
        "mamba_d_state": 16,
        "mamba_expand": 2,
        "num_local_experts": 0,
        "num_experts_per_tok": 0,
        "vocab_size": 300,
    },
}


def _transformers_cache_bytes(config, tokens, batch):
    """(logical bytes, storage bytes) of the cache transformers allocates after one bf16 forward."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    raw = dict(config)
    hf_config = AutoConfig.for_model(raw.pop("model_type"), **raw)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(hf_config).to(torch.bfloat16).eval()
    with torch.no_grad():
        out = model(input_ids=torch.randint(0, hf_config.vocab_size, (batch, tokens)), use_cache=True)
    logical = storage = 0
    seen = set()
    for layer in out.past_key_values.layers:
        tensors = [getattr(layer, "keys", None), getattr(layer, "values", None)]
        tensors += [
            *getattr(layer, "conv_states", {}).values(),
            *getattr(layer, "recurrent_states", {}).values(),
        ]
        for t in tensors:
            if t is None or not hasattr(t, "nbytes") or t.numel() == 0:
                continue
            logical += t.nbytes
            ptr = t.untyped_storage().data_ptr()
            if ptr not in seen:
                seen.add(ptr)
                storage += t.untyped_storage().nbytes()
    return logical, storage


@pytest.mark.parametrize("case", TINY)
@pytest.mark.parametrize(("tokens", "batch"), [(9, 2), (3, 1)])
def test_transformers_cache_bytes_equal_the_planner(case, tokens, batch):
    config = TINY[case]
    spec = model_from_config(config)
    layers, lines = kv.transformers_cache(spec, BF16, tokens, batch)
    figure = kv.cache_figure(layers, lines, keys=(), source="")
    logical, storage = _transformers_cache_bytes(config, tokens, batch)
    assert figure.bytes == logical
    # sliding layers keep a view of the whole prefill until the next step (storage, not view size)
    assert figure.bytes + kv.transformers_sliding_retention(spec, BF16, tokens, batch) == storage
