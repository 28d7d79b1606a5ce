"""transformers' DynamicCache per layer: worked cases, and byte for byte against transformers' own cache.

The byte-for-byte cases build tiny random models on the CPU, run one forward with ``use_cache=True``
and compare the cache tensors' bytes exactly.
"""

import pytest

from planner.catalog import load_catalog
from planner.engines.transformers.kv import transformers_cache, transformers_sliding_retention
from planner.memory import kv
from planner.model import model_from_config

KIB = 1 << 10
BF16, FP16 = kv.cache_type("bf16"), kv.cache_type("f16")


def spec_of(model_id):
    return load_catalog()[model_id].spec()


def parts(spec, dtype, ctx, batch):
    return kv.cache_figure(*transformers_cache(spec, dtype, ctx, batch), keys=(), source="").parts


def test_llama_31_8b_is_128_kib_per_token():
    # 32 layers x 8 KV heads x 128 x (K + V) x 2 B = 128 KiB per token at fp16
    spec = spec_of("meta-llama/Llama-3.1-8B-Instruct")
    layers, _ = transformers_cache(spec, FP16, 1, 1)
    assert sum(layer.bytes for layer in layers) == 128 * KIB
    assert sum(x.bytes for x in transformers_cache(spec, FP16, 1000, 1)[0]) == 1000 * 128 * KIB  # no rounding


def test_deepseek_v3_caches_the_mla_latent():
    # 61 layers x 32768 tokens x (kv_lora_rank 512 + rope 64) x 2 B = 2.14 GiB
    # (expanded heads would be 61 x 128 heads x (192 + 128) x 2 B per token: 149 GiB)
    spec = spec_of("deepseek-ai/DeepSeek-V3")
    assert sum(x.bytes for x in transformers_cache(spec, BF16, 32768, 1)[0]) == 61 * 32768 * 576 * 2


def test_sliding_layers_keep_window_minus_one():
    # DynamicSlidingWindowLayer.update keeps full_key_states[:, :, -window + 1:]
    per_token = 16 * 128 * 2 * 2  # Gemma 3 27B: 16 KV heads x 128 x (K + V) x bf16
    assert parts(spec_of("google/gemma-3-27b-it"), BF16, 32768, 1) == {
        "sliding": 52 * 1023 * per_token,
        "full": 10 * 32768 * per_token,
    }
    per_token = 8 * 64 * 2 * 2  # gpt-oss-20b: 8 KV heads x 64
    assert parts(spec_of("openai/gpt-oss-20b"), BF16, 8192, 1) == {
        "sliding": 12 * 127 * per_token,
        "full": 12 * 8192 * per_token,
    }


def test_sliding_window_never_exceeds_the_context():
    t = parts(spec_of("openai/gpt-oss-20b"), BF16, 50, 1)
    assert t["sliding"] == t["full"] == 12 * 50 * 8 * 64 * 2 * 2


def test_granite_h_small_conv_in_bf16_state_in_fp32():
    # conv [b, 8448, 4] in bf16 + SSM state (128 heads x 64 x 128) in fp32, per Mamba layer
    ssm = 128 * 64 * 128
    got = parts(spec_of("ibm-granite/granite-4.0-h-small"), BF16, 4096, 2)
    assert got["linear"] == 36 * 2 * (8448 * 4 * 2 + ssm * 4)


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
    layers, lines = transformers_cache(spec, BF16, tokens, batch)
    figure = kv.cache_figure(layers, lines, keys=(), source="")
    logical, storage = _transformers_cache_bytes(config, tokens, batch)
    assert figure.bytes == logical
    # sliding layers keep a view of the whole prefill until the next step (storage, not view size)
    assert figure.bytes + transformers_sliding_retention(spec, BF16, tokens, batch) == storage
