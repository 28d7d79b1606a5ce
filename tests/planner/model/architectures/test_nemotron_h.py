"""Nemotron-H / Nemotron 3 (``nemotron_h``): one mixer per block, against transformers."""

import pytest

from planner.catalog import get_entry
from planner.errors import InvalidFieldError
from planner.model import model_from_config
from tests.planner.model.architectures._compare import (
    assert_layer_kinds_match,
    assert_matches_transformers,
    transformers_default,
)

CASES = {
    "default (M, E, *, -)": {},
    "legacy pattern, latent MoE, biases, tie ignored": {
        "hybrid_override_pattern": "M-M*-E",
        "moe_latent_size": 1024,
        "mlp_bias": True,
        "use_bias": True,
        "tie_word_embeddings": True,
    },
    "legacy layer names, 4 groups": {"layers_block_type": ["mamba", "attention", "mlp"], "n_groups": 4},
}


@pytest.mark.parametrize("case", CASES)
def test_tensors_and_layer_kinds_match_transformers(case):
    config = transformers_default("nemotron_h", **CASES[case])
    assert_matches_transformers(config)
    assert_layer_kinds_match(config)


def test_nemotron_3_nano_matches_transformers():
    config = get_entry("nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16").config
    spec = assert_matches_transformers(config)
    assert_layer_kinds_match(config)
    assert spec.n_experts == 128 and spec.n_experts_per_token == 6


def test_an_unknown_block_letter_names_the_field():
    with pytest.raises(InvalidFieldError) as info:
        model_from_config({"model_type": "nemotron_h", "hidden_size": 64, "hybrid_override_pattern": "M?"})
    assert info.value.field == "hybrid_override_pattern"
