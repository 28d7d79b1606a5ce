"""Gemma 3n language models (``gemma3n_text``) against transformers: per-layer widths, AltUp, LAuReL, KV sharing."""

import pytest

from planner.errors import InvalidFieldError
from planner.model import model_from_config
from tests.planner.model.architectures._compare import (
    assert_layer_kinds_match,
    assert_matches_transformers,
    transformers_default,
)

CASES = {
    "default (E4B-like)": {},
    "per-layer widths, 3 AltUp streams, biases, untied": {
        "num_hidden_layers": 7,
        "num_kv_shared_layers": 2,
        "intermediate_size": [100, 200, 300, 400, 500, 600, 700],
        "altup_num_inputs": 3,
        "attention_bias": True,
        "tie_word_embeddings": False,
        "activation_sparsity_pattern": [0.0] * 7,
        "layer_types": [
            "sliding_attention",
            "full_attention",
            "sliding_attention",
            "sliding_attention",
            "full_attention",
            "full_attention",
            "sliding_attention",
        ],
    },
}


@pytest.mark.parametrize("case", CASES)
def test_tensors_and_layer_kinds_match_transformers(case):
    config = transformers_default("gemma3n_text", **CASES[case])
    assert_matches_transformers(config)
    assert_layer_kinds_match(config)


def test_a_width_list_of_the_wrong_length_names_the_field():
    config = transformers_default("gemma3n_text") | {"intermediate_size": [8192, 8192]}
    with pytest.raises(InvalidFieldError) as info:
        model_from_config(config)
    assert info.value.field == "intermediate_size"
