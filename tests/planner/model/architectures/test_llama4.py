"""Llama 4 (``llama4_text``): interleaved MoE, chunked attention on the RoPE layers, against transformers."""

import pytest

from planner.model import AttentionKind, model_from_config
from tests.planner.model.architectures._compare import (
    assert_layer_kinds_match,
    assert_matches_transformers,
    transformers_default,
)

CASES = {
    "default (Scout's text model)": {},
    "interleaved like Maverick": {"interleave_moe_layer_step": 2, "num_hidden_layers": 8},
    "explicit moe layers, biases, tied, 4k chunks": {
        "num_hidden_layers": 5,
        "moe_layers": [0, 3],
        "attention_bias": True,
        "tie_word_embeddings": True,
        "attention_chunk_size": 4096,
    },
}


@pytest.mark.parametrize("case", CASES)
def test_tensors_and_layer_kinds_match_transformers(case):
    config = transformers_default("llama4_text", **CASES[case])
    assert_matches_transformers(config)
    assert_layer_kinds_match(config)


def test_chunked_layers_keep_a_chunk_and_nope_layers_the_context():
    spec = model_from_config(transformers_default("llama4_text", num_hidden_layers=8))
    kinds = [(layer.attention, layer.window, layer.chunked) for layer in spec.layers]
    chunked = (AttentionKind.SLIDING, 8192, True)
    assert kinds == [chunked, chunked, chunked, (AttentionKind.FULL, None, False)] * 2
    assert [layer.moe for layer in spec.layers] == [True] * 8


@pytest.mark.parametrize("step", [1, 2])
def test_the_released_wrapper_without_moe_layers_counts_the_tower_and_keeps_chunked_layers(step):
    """Llama4ForConditionalGeneration from a file that leaves moe_layers out (transformers derives it)."""
    from verify.meta_count import transformers_parameter_count

    text = {"num_hidden_layers": 8, "interleave_moe_layer_step": step, "num_local_experts": 4}
    vision = {"num_hidden_layers": 2, "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4}
    config = transformers_default("llama4", text_config=text, vision_config=vision)
    del config["text_config"]["moe_layers"]
    spec = assert_layer_kinds_match(config)
    assert not spec.approximate, spec.notes
    assert spec.total_parameters == transformers_parameter_count(config)
    assert {layer.attention for layer in spec.layers} == {AttentionKind.SLIDING, AttentionKind.FULL}
    # the cache is the language model's own (its builder's layers are checked against transformers' cache)
    text = model_from_config({**config["text_config"], "model_type": "llama4_text"})
    assert spec.layers == text.layers
