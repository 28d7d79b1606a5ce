"""MiniMax-Text-01 (``minimax``: lightning + softmax attention) and MiniMax-M2 (``minimax_m2``) against transformers."""

import pytest

from planner.catalog import get_entry
from planner.model import AttentionKind, model_from_config
from tests.planner.model.architectures._compare import (
    assert_layer_kinds_match,
    assert_matches_transformers,
    transformers_default,
)

CASES = {
    ("minimax", "default"): {},
    ("minimax", "explicit layer types, 64-dim heads, small blocks, tied"): {
        "num_hidden_layers": 3,
        "layer_types": ["linear_attention", "linear_attention", "full_attention"],
        "head_dim": 64,
        "block_size": 128,
        "tie_word_embeddings": True,
    },
    ("minimax_m2", "default (MiniMax-M2 geometry)"): {},
    ("minimax_m2", "fewer experts and layers"): {"num_hidden_layers": 3, "num_local_experts": 16},
}


@pytest.mark.parametrize(("model_type", "case"), CASES)
def test_tensors_match_transformers(model_type, case):
    config = transformers_default(model_type, **CASES[model_type, case])
    assert_matches_transformers(config)
    if model_type == "minimax":
        assert_layer_kinds_match(config)


def test_lightning_layers_hold_a_head_square_state_in_the_model_dtype():
    spec = model_from_config(transformers_default("minimax", num_hidden_layers=2, head_dim=64))
    linear = spec.layers[1]
    assert linear.attention is AttentionKind.LINEAR and linear.state_in_model_dtype
    assert linear.state_elements == 32 * 64 * 64  # [heads, head_dim, head_dim]


def test_minimax_m2_5_matches_transformers():
    assert_matches_transformers(get_entry("MiniMaxAI/MiniMax-M2.5").config)
