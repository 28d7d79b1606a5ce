"""ERNIE 4.5 (``ernie4_5`` dense, ``ernie4_5_moe``) against transformers."""

import pytest

from tests.planner.model.architectures._compare import assert_matches_transformers, transformers_default

CASES = {
    ("ernie4_5", "default (0.3B geometry)"): {},
    ("ernie4_5", "biases, untied, head_dim from widths"): {
        "num_hidden_layers": 2,
        "use_bias": True,
        "tie_word_embeddings": False,
        "head_dim": None,
    },
    ("ernie4_5_moe", "default (21B-A3B geometry)"): {},
    ("ernie4_5_moe", "MoE every other layer up to 3, biases, no shared expert"): {
        "num_hidden_layers": 5,
        "use_bias": True,
        "moe_layer_interval": 2,
        "moe_layer_end_index": 3,
        "moe_num_shared_experts": 0,
        "tie_word_embeddings": False,
    },
}


@pytest.mark.parametrize(("model_type", "case"), CASES)
def test_tensors_match_transformers(model_type, case):
    assert_matches_transformers(transformers_default(model_type, **CASES[model_type, case]))
