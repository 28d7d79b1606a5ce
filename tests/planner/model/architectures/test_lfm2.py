"""LFM2 (``lfm2``): short-convolution / attention layers against transformers."""

import pytest

from planner.catalog import get_entry
from planner.model import AttentionKind, model_from_config
from tests.planner.model.architectures._compare import (
    assert_layer_kinds_match,
    assert_matches_transformers,
    transformers_default,
)

CASES = {
    "default (all attention)": {"num_hidden_layers": 3},
    "conv layers, biases, untied, other width rule": {
        "num_hidden_layers": 3,
        "full_attn_idxs": [2],
        "conv_bias": True,
        "tie_word_embeddings": False,
        "block_ffn_dim_multiplier": 1.5,
        "block_multiple_of": 128,
    },
    "no width adjustment": {"num_hidden_layers": 2, "block_auto_adjust_ff_dim": False},
}


@pytest.mark.parametrize("case", CASES)
def test_tensors_and_layer_kinds_match_transformers(case):
    config = transformers_default("lfm2", **CASES[case])
    assert_matches_transformers(config)
    assert_layer_kinds_match(config)


def test_lfm2_350m_in_its_original_spelling():
    config = get_entry("LiquidAI/LFM2-350M").config  # block_ff_dim, no intermediate adjustment named
    spec = assert_matches_transformers(config)
    conv = [layer for layer in spec.layers if layer.attention is AttentionKind.LINEAR]
    assert len(conv) == 10 and {layer.state_elements for layer in conv} == {1024 * 3}


def test_original_field_names_are_read():
    base = transformers_default("lfm2", num_hidden_layers=2)
    renamed = {k: v for k, v in base.items() if k not in ("intermediate_size", "tie_word_embeddings")}
    renamed |= {"block_ff_dim": base["intermediate_size"], "tie_embedding": base["tie_word_embeddings"]}
    assert model_from_config(renamed).tensors == model_from_config(base).tensors
