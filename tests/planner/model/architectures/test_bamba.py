"""Bamba (``bamba``): Mamba-2 / attention layers against transformers."""

import pytest

from planner.model import AttentionKind, model_from_config
from tests.planner.model.architectures._compare import (
    assert_layer_kinds_match,
    assert_matches_transformers,
    transformers_default,
)

CASES = {
    "default with two attention layers": {"attn_layer_indices": [3, 7], "num_hidden_layers": 8},
    "biases, groups, tied": {
        "num_hidden_layers": 2,
        "attn_layer_indices": [0],
        "attention_bias": True,
        "mlp_bias": True,
        "mamba_proj_bias": True,
        "mamba_conv_bias": False,
        "mamba_n_groups": 2,
        "tie_word_embeddings": True,
    },
}


@pytest.mark.parametrize("case", CASES)
def test_tensors_and_layer_kinds_match_transformers(case):
    config = transformers_default("bamba", **CASES[case])
    assert_matches_transformers(config)
    assert_layer_kinds_match(config)


def test_the_default_has_no_attention_layer():
    spec = model_from_config(transformers_default("bamba", num_hidden_layers=2))
    assert {layer.attention for layer in spec.layers} == {AttentionKind.LINEAR}
