"""Phi-3.5-MoE (``phimoe``): LayerNorms with biases, optional attention and head biases, against transformers."""

import pytest

from planner.model import AttentionKind, model_from_config
from tests.planner.model.architectures._compare import assert_matches_transformers, transformers_default

CASES = {
    "default (Phi-3.5-MoE geometry)": {},
    "biases and a window": {
        "num_hidden_layers": 2,
        "attention_bias": True,
        "lm_head_bias": True,
        "sliding_window": 128,
    },
}


@pytest.mark.parametrize("case", CASES)
def test_tensors_match_transformers(case):
    assert_matches_transformers(transformers_default("phimoe", **CASES[case]))


def test_a_window_slides_every_layer():
    spec = model_from_config(transformers_default("phimoe", num_hidden_layers=2, sliding_window=128))
    assert {(layer.attention, layer.window) for layer in spec.layers} == {(AttentionKind.SLIDING, 128)}
