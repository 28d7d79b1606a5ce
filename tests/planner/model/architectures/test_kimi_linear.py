"""Kimi Linear (``kimi_linear``): KDA layers and MLA layers, against transformers."""

import pytest

from planner.model import AttentionKind, model_from_config
from tests.planner.model.architectures._compare import (
    assert_layer_kinds_match,
    assert_matches_transformers,
    transformers_default,
)

CASES = {
    "default (48B-A3B geometry)": {},
    "checkpoint-style linear_attn_config, q low-rank, biases": {
        "num_hidden_layers": 5,
        "q_lora_rank": 256,
        "attention_bias": True,
        "first_k_dense_replace": 2,
        "linear_attn_config": {
            "full_attn_layers": [2, 5],
            "kda_layers": [1, 3, 4],
            "head_dim": 64,
            "num_heads": 16,
            "short_conv_kernel_size": 3,
        },
    },
}


@pytest.mark.parametrize("case", CASES)
def test_tensors_and_layer_kinds_match_transformers(case):
    config = transformers_default("kimi_linear", **CASES[case])
    assert_matches_transformers(config)
    assert_layer_kinds_match(config)


def test_kda_state_and_mla_latent():
    spec = model_from_config(transformers_default("kimi_linear", num_hidden_layers=5))
    kda, mla = spec.layers[0], spec.layers[4]
    assert kda.attention is AttentionKind.LINEAR
    assert kda.state_elements == 3 * 32 * 128 * 4 + 32 * 128 * 128  # conv over q, k, v + [heads, 128, 128]
    assert mla.attention is AttentionKind.MLA and mla.kv_elements_per_token == 512 + 64
