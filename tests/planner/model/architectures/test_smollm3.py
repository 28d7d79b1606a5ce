"""SmolLM3 (``smollm3``): NoPE layers and the optional window on them, against transformers."""

import pytest

from tests.planner.model.architectures._compare import (
    assert_layer_kinds_match,
    assert_matches_transformers,
    transformers_default,
)

CASES = {
    "default (SmolLM3-3B geometry)": {},
    "window on the NoPE layers, untied, MLP biases": {
        "num_hidden_layers": 8,
        "use_sliding_window": True,
        "sliding_window": 512,
        "tie_word_embeddings": False,
        "mlp_bias": True,
    },
}


@pytest.mark.parametrize("case", CASES)
def test_tensors_and_layer_kinds_match_transformers(case):
    config = transformers_default("smollm3", **CASES[case])
    assert_matches_transformers(config)
    assert_layer_kinds_match(config)
