"""Falcon-H1 (``falcon_h1``): attention and a Mamba-2 mixer in every layer, against transformers."""

import pytest

from planner.model import AttentionKind, model_from_config
from tests.planner.model.architectures._compare import (
    assert_layer_kinds_match,
    assert_matches_transformers,
    transformers_default,
)

CASES = {
    "default": {"num_hidden_layers": 4},
    "expanded width, gated norm, all biases, tied": {
        "num_hidden_layers": 2,
        "mamba_d_ssm": None,
        "mamba_n_heads": 64,
        "mamba_rms_norm": True,
        "projectors_bias": True,
        "mamba_proj_bias": True,
        "attention_bias": True,
        "head_dim": 64,
        "tie_word_embeddings": True,
    },
}


@pytest.mark.parametrize("case", CASES)
def test_tensors_and_layer_kinds_match_transformers(case):
    config = transformers_default("falcon_h1", **CASES[case])
    assert_matches_transformers(config)
    assert_layer_kinds_match(config)


def test_every_layer_caches_kv_and_holds_a_mamba_state():
    spec = model_from_config(transformers_default("falcon_h1", num_hidden_layers=2))
    layer = spec.layers[0]
    assert layer.attention is AttentionKind.FULL and layer.kv_heads == 8
    # conv [1024 + 2 x 256, 4] + SSM [128 heads, 8 head_dim, 256 state]
    assert layer.state_elements == (1024 + 2 * 256) * 4 + 128 * 8 * 256
