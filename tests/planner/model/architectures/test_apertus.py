"""Apertus (``apertus``): non-gated MLP with the xIELU activation's parameters, against transformers."""

import pytest

from tests.planner.model.architectures._compare import assert_matches_transformers, transformers_default

CASES = {
    "default": {"num_hidden_layers": 2},
    "GQA, biases, tied": {
        "num_hidden_layers": 2,
        "attention_bias": True,
        "num_key_value_heads": 8,
        "tie_word_embeddings": True,
    },
    "another activation (no xIELU parameters)": {"num_hidden_layers": 1, "hidden_act": "gelu"},
}


@pytest.mark.parametrize("case", CASES)
def test_tensors_match_transformers(case):
    assert_matches_transformers(transformers_default("apertus", **CASES[case]))
