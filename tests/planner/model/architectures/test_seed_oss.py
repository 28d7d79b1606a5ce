"""Seed-OSS (``seed_oss``): separate q/k/v, o and MLP bias switches, against transformers."""

import pytest

from tests.planner.model.architectures._compare import assert_matches_transformers, transformers_default

CASES = {
    "default (Seed-OSS-36B geometry)": {},
    "every bias, tied": {
        "num_hidden_layers": 2,
        "attention_out_bias": True,
        "mlp_bias": True,
        "tie_word_embeddings": True,
    },
}


@pytest.mark.parametrize("case", CASES)
def test_tensors_match_transformers(case):
    assert_matches_transformers(transformers_default("seed_oss", **CASES[case]))
