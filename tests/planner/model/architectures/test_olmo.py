"""OLMo 2 and OLMo 3 (post-norm, whole-width q/k norms, OLMo 3's sliding layers) against transformers."""

import pytest

from planner.catalog import get_entry
from tests.planner.model.architectures._compare import (
    assert_layer_kinds_match,
    assert_matches_transformers,
    transformers_default,
)

CASES = {
    ("olmo2", "default"): {"num_hidden_layers": 2},
    ("olmo2", "GQA, biases"): {"num_hidden_layers": 2, "num_key_value_heads": 8, "attention_bias": True},
    ("olmo3", "default"): {"num_hidden_layers": 8},
    ("olmo3", "GQA, tied, window 512"): {
        "num_hidden_layers": 4,
        "num_key_value_heads": 8,
        "tie_word_embeddings": True,
        "sliding_window": 512,
    },
}


@pytest.mark.parametrize(("model_type", "case"), CASES)
def test_tensors_and_layer_kinds_match_transformers(model_type, case):
    config = transformers_default(model_type, **CASES[model_type, case])
    assert_matches_transformers(config)
    assert_layer_kinds_match(config)


def test_olmo_2_32b_matches_transformers():
    assert_matches_transformers(get_entry("allenai/OLMo-2-0325-32B").config)
