"""Every attention kind of the 2025-26 families: the planner's KV bytes equal transformers' real cache.

Each case is a shrunk config of one family (random weights, CPU, bf16) that keeps its cache-relevant
features; ``verify.run.run`` prefills ``CONTEXT`` tokens for ``BATCH`` sequences and sums the bytes of every
tensor the cache holds (keys, values, DSA indexer keys, conv and recurrent states, MiniMax's lightning
states). The planner's transformers engine must predict exactly that, logical and allocated.
"""

import json

import pytest

from planner.model import AttentionKind, model_from_config
from verify.config import RunConfig
from verify.run import run

pytest.importorskip("torch")
pytest.importorskip("transformers")

CONTEXT, BATCH = 12, 2  # longer than the 8-token windows and chunks, so those layers trim their cache

_MLA = {"kv_lora_rank": 128, "qk_rope_head_dim": 64, "qk_nope_head_dim": 64, "v_head_dim": 64}
_SMALL = {"hidden_size": 256, "intermediate_size": 512, "num_attention_heads": 4, "vocab_size": 512}

#: case -> (what it checks, config)
CASES = {
    "chunked (llama4)": {
        **_SMALL, "model_type": "llama4_text", "intermediate_size": 256, "intermediate_size_mlp": 512,
        "num_hidden_layers": 4, "num_key_value_heads": 2, "head_dim": 64, "num_local_experts": 4,
        "num_experts_per_tok": 1, "interleave_moe_layer_step": 2, "no_rope_layer_interval": 2,
        "attention_chunk_size": 8,
    },
    "sliding (olmo3)": {
        **_SMALL, "model_type": "olmo3", "num_hidden_layers": 4, "num_key_value_heads": 2, "sliding_window": 8,
    },
    "mla (mistral4)": {
        **_SMALL, **_MLA, "model_type": "mistral4", "moe_intermediate_size": 128, "num_hidden_layers": 2,
        "num_key_value_heads": 4, "q_lora_rank": 128, "n_routed_experts": 4, "num_experts_per_tok": 2,
        "first_k_dense_replace": 1,
    },
    "mla + dsa indexer keys (deepseek_v32)": {
        **_SMALL, **_MLA, "model_type": "deepseek_v32", "moe_intermediate_size": 128, "num_hidden_layers": 2,
        "num_key_value_heads": 4, "q_lora_rank": 128, "n_routed_experts": 4, "num_experts_per_tok": 2,
        "first_k_dense_replace": 1, "n_group": 1, "topk_group": 1, "index_n_heads": 4, "index_head_dim": 64,
        "index_topk": 8,
    },
    "gated deltanet (qwen3_5)": {
        **_SMALL, "model_type": "qwen3_5_text", "num_hidden_layers": 2,
        "layer_types": ["linear_attention", "full_attention"], "num_key_value_heads": 2, "head_dim": 64,
        "linear_num_key_heads": 2, "linear_num_value_heads": 4, "linear_key_head_dim": 64,
        "linear_value_head_dim": 64,
    },
    "kimi delta attention + mla (kimi_linear)": {
        **_SMALL, **_MLA, "model_type": "kimi_linear", "moe_intermediate_size": 128, "num_hidden_layers": 2,
        "layer_types": ["linear_attention", "full_attention"], "mlp_layer_types": ["dense", "sparse"],
        "num_key_value_heads": 4, "linear_num_heads": 4, "linear_head_dim": 64, "num_experts": 4,
        "num_experts_per_token": 2,
    },
    "lightning attention (minimax)": {
        **_SMALL, "model_type": "minimax", "intermediate_size": 256, "num_hidden_layers": 2,
        "layer_types": ["linear_attention", "full_attention"], "num_key_value_heads": 2, "head_dim": 64,
        "num_local_experts": 4, "num_experts_per_tok": 2, "block_size": 8,
    },
    "mamba2 blocks (nemotron_h)": {
        **_SMALL, "model_type": "nemotron_h", "layers_block_type": ["linear_attention", "full_attention", "mlp", "moe"],
        "num_key_value_heads": 2, "head_dim": 64, "mamba_num_heads": 8, "mamba_head_dim": 64, "n_groups": 2,
        "ssm_state_size": 64, "moe_intermediate_size": 128, "moe_shared_expert_intermediate_size": 128,
        "n_routed_experts": 4, "num_experts_per_tok": 2,
    },
    "mamba2 / attention layers (bamba)": {
        **_SMALL, "model_type": "bamba", "num_hidden_layers": 2, "attn_layer_indices": [1],
        "num_key_value_heads": 2, "mamba_n_heads": 8, "mamba_d_state": 64,
    },
    "parallel mamba2 + attention (falcon_h1)": {
        **_SMALL, "model_type": "falcon_h1", "num_hidden_layers": 2, "num_key_value_heads": 2, "head_dim": 64,
        "mamba_d_ssm": 512, "mamba_n_heads": 8, "mamba_d_state": 64,
    },
    "short convolution (lfm2)": {
        **_SMALL, "model_type": "lfm2", "intermediate_size": 768, "num_hidden_layers": 2, "full_attn_idxs": [1],
        "num_key_value_heads": 2,
    },
    "kv sharing (gemma3n)": {
        **_SMALL, "model_type": "gemma3n_text", "num_hidden_layers": 4, "num_kv_shared_layers": 2,
        "layer_types": ["sliding_attention", "full_attention", "sliding_attention", "full_attention"],
        "num_key_value_heads": 2, "head_dim": 64, "sliding_window": 8, "vocab_size_per_layer_input": 512,
        "hidden_size_per_layer_input": 64, "laurel_rank": 64, "activation_sparsity_pattern": [0.0] * 4,
    },
    "kv sharing, k = v global layers (gemma4)": {
        **_SMALL, "model_type": "gemma4_text", "num_hidden_layers": 4, "num_kv_shared_layers": 2,
        "layer_types": ["sliding_attention", "full_attention", "sliding_attention", "full_attention"],
        "num_key_value_heads": 2, "head_dim": 64, "global_head_dim": 128, "attention_k_eq_v": True,
        "num_global_key_value_heads": 1, "sliding_window": 8, "vocab_size_per_layer_input": 512,
        "hidden_size_per_layer_input": 64,
    },
}  # fmt: skip

#: Weight bytes that differ, and why (the KV check is exact for every case).
# NOTE: DeepseekV32PreTrainedModel keeps e_score_correction_bias in fp32 (_keep_in_fp32_modules_strict);
# the planner stores every tensor of a bf16 model in bf16: 2 bytes more per routed expert.
WEIGHT_DIFFERENCE = {"mla + dsa indexer keys (deepseek_v32)": 4 * 2}


def _record(tmp_path, case):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(CASES[case]))
    config = RunConfig(model=str(path), format="bf16", device="cpu", context=CONTEXT, batch=BATCH, decode=0)
    return run(config).to_dict()


@pytest.mark.parametrize("case", CASES)
def test_kv_bytes_equal_the_real_cache(tmp_path, case):
    record = _record(tmp_path, case)
    assert record["status"] == "ok", record["reason"]
    measured, predicted = record["measured"], record["predicted"]
    assert measured["kv_cache"] == predicted["kv_cache"] > 0
    assert measured["kv_cache_storage"] == predicted["kv_cache_storage"]
    assert measured["weights"] - predicted["weights"] == WEIGHT_DIFFERENCE.get(case, 0)


def test_the_cases_cover_every_attention_kind():
    """Full, sliding, chunked, MLA (+ indexer), linear, hybrid and shared layers all occur above."""
    seen = set()
    for config in CASES.values():
        for layer in model_from_config(config).layers:
            seen.add(layer.attention)
            seen |= {"chunked"} if layer.chunked else set()
            seen |= {"indexer"} if layer.indexer_dim else set()
            seen |= {"hybrid"} if layer.attention is AttentionKind.FULL and layer.state_elements else set()
            seen |= {"shared"} if layer.kv_shared_from is not None else set()
            seen |= {"model-dtype state"} if layer.state_in_model_dtype else set()
    assert seen >= {*AttentionKind, "chunked", "indexer", "hybrid", "shared", "model-dtype state"}
