"""Qwen3.5 language models (``qwen3_5_text`` dense, ``qwen3_5_moe_text``) against transformers."""

import pytest

from planner.model import AttentionKind, model_from_config
from tests.planner.model.architectures._compare import (
    assert_layer_kinds_match,
    assert_matches_transformers,
    transformers_default,
)
from verify.meta_count import transformers_parameter_count

CASES = {
    ("qwen3_5_text", "default"): {},
    ("qwen3_5_text", "interval 2, biases, tied"): {
        "num_hidden_layers": 4,
        "layer_types": ["linear_attention", "full_attention"] * 2,
        "attention_bias": True,
        "tie_word_embeddings": True,
    },
    ("qwen3_5_moe_text", "default"): {},
    ("qwen3_5_moe_text", "explicit layers, narrower shared expert"): {
        "num_hidden_layers": 3,
        "layer_types": ["full_attention", "linear_attention", "full_attention"],
        "shared_expert_intermediate_size": 256,
        "num_experts": 64,
    },
}


@pytest.mark.parametrize(("model_type", "case"), CASES)
def test_tensors_and_layer_kinds_match_transformers(model_type, case):
    config = transformers_default(model_type, **CASES[model_type, case])
    assert_matches_transformers(config)
    assert_layer_kinds_match(config)


def test_deltanet_state_is_the_conv_window_plus_the_delta_rule_matrix():
    spec = model_from_config(transformers_default("qwen3_5_text"))
    linear = {layer.state_elements for layer in spec.layers if layer.attention is AttentionKind.LINEAR}
    # conv over q, k, v [2 x 16 x 128 + 32 x 128, kernel 4] + state [32 value heads, 128, 128]
    assert linear == {(2 * 16 * 128 + 32 * 128) * 4 + 32 * 128 * 128}


@pytest.mark.parametrize("model_type", ["qwen3_5", "qwen3_5_moe"])
def test_the_image_text_wrapper_counts_the_tower_and_keeps_the_deltanet_state(model_type):
    """Vision tower + merger from the template, recurrent state from the language model's builder."""
    config = transformers_default(model_type, text_config={"num_hidden_layers": 4})
    # NOTE: the released checkpoints name vision_config's type after the wrapper; transformers renames it.
    config["vision_config"]["model_type"] = model_type
    spec = assert_layer_kinds_match(config)
    assert spec.total_parameters == transformers_parameter_count(config)
    assert not spec.approximate, spec.notes
    text = model_from_config({**config["text_config"], "model_type": f"{model_type}_text"})
    assert [layer.state_elements for layer in spec.layers] == [layer.state_elements for layer in text.layers]
    assert any(layer.state_elements for layer in spec.layers)
