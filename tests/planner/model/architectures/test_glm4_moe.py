"""GLM-4.5 / 4.6 / 4.7 (``glm4_moe``) against transformers, and the MTP layer the Hub total includes."""

import pytest

from planner.catalog import get_entry
from planner.model import model_from_config
from tests.planner.model.architectures._compare import assert_matches_transformers, transformers_default

CASES = {
    "default (GLM-4.5-Air geometry)": {},
    "dense prefix, biases, q/k norms, two shared experts": {
        "num_hidden_layers": 4,
        "first_k_dense_replace": 2,
        "attention_bias": True,
        "use_qk_norm": True,
        "head_dim": 128,
        "n_shared_experts": 2,
        "tie_word_embeddings": True,
    },
}


@pytest.mark.parametrize("case", CASES)
def test_tensors_match_transformers(case):
    assert_matches_transformers(transformers_default("glm4_moe", **CASES[case]))


def test_glm_4_7_matches_transformers_and_the_hub_total_less_its_mtp_layer():
    entry = get_entry("zai-org/GLM-4.7")
    spec = assert_matches_transformers(entry.config)
    # Hub total 358,337,791,296 = model + MTP layer (one decoder layer, eh_proj, 3 norms) + its embedding/head copies
    assert spec.total_parameters == 358_337_791_296 - 3_988_069_792 - 2 * 151_552 * 5_120
    assert any("1 multi-token-prediction layer" in note for note in spec.notes)


def test_mtp_layers_are_noted_not_counted():
    base = transformers_default("glm4_moe", num_hidden_layers=3)
    with_mtp = model_from_config(base | {"num_nextn_predict_layers": 1})
    assert with_mtp.tensors == model_from_config(base | {"num_nextn_predict_layers": 0}).tensors
