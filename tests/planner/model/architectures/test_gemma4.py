"""Gemma 4 language models (``gemma4_text``) against transformers: global geometry, MoE, KV sharing."""

import pytest

from planner.model import AttentionKind, model_from_config
from tests.planner.model.architectures._compare import (
    assert_layer_kinds_match,
    assert_matches_transformers,
    transformers_default,
)
from verify.meta_count import transformers_parameter_count

LAYERS = ["sliding_attention", "full_attention", "sliding_attention", "full_attention"]
CASES = {
    "default (E2B-like: per-layer inputs)": {},
    "26B-A4B-like: MoE block, k = v global layers": {
        "num_hidden_layers": 6,
        "hidden_size_per_layer_input": 0,
        "enable_moe_block": True,
        "num_experts": 16,
        "top_k_experts": 4,
        "moe_intermediate_size": 256,
        "attention_k_eq_v": True,
        "num_global_key_value_heads": 2,
    },
    "KV sharing, double-wide MLPs, untied": {
        "num_hidden_layers": 8,
        "num_kv_shared_layers": 4,
        "use_double_wide_mlp": True,
        "tie_word_embeddings": False,
        "layer_types": LAYERS * 2,
    },
}


@pytest.mark.parametrize("case", CASES)
def test_tensors_and_layer_kinds_match_transformers(case):
    config = transformers_default("gemma4_text", **CASES[case])
    assert_matches_transformers(config)
    assert_layer_kinds_match(config)


def test_shared_layers_reuse_the_last_unshared_layer_of_their_kind():
    spec = model_from_config(
        transformers_default(
            "gemma4_text", num_hidden_layers=8, num_kv_shared_layers=4, layer_types=LAYERS * 2
        )
    )
    assert [layer.kv_shared_from for layer in spec.layers[4:]] == [2, 3, 2, 3]
    assert all(layer.attention is AttentionKind.NONE for layer in spec.layers[4:])
    full = spec.layers[1]
    assert (full.k_head_dim, full.kv_heads) == (512, 4)  # global_head_dim


VISION = {"hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
          "num_key_value_heads": 2, "head_dim": 16, "position_embedding_size": 128}  # fmt: skip
WRAPPERS = {
    "vision tower, standardized": {"vision_config": VISION | {"standardize": True}},
    "vision tower, clipped linears": {"vision_config": VISION | {"use_clipped_linears": True}},
}


@pytest.mark.parametrize("case", WRAPPERS)
def test_the_image_text_wrapper_counts_the_vision_tower_and_embedder(case):
    """Gemma4ForConditionalGeneration: every parameter and buffer transformers allocates, no audio tower."""
    text = {"num_hidden_layers": 4, "hidden_size_per_layer_input": 0, "layer_types": LAYERS}
    config = transformers_default("gemma4", text_config=text, audio_config=None, **WRAPPERS[case])
    assert config["vision_config"] is not None and config["audio_config"] is None
    spec = model_from_config(config)
    assert not spec.approximate, spec.notes
    assert spec.total_parameters == transformers_parameter_count(config)
    assert_layer_kinds_match(config)


def test_an_audio_tower_is_flagged_as_not_counted():
    """The E2B/E4B checkpoints carry an audio tower the planner does not model: the figure says so."""
    from transformers import Gemma4AudioConfig

    config = transformers_default("gemma4", vision_config=VISION, audio_config=Gemma4AudioConfig().to_dict())
    spec = model_from_config(config)
    assert spec.approximate
    assert "audio tower" in spec.notes[0]
    assert spec.total_parameters < transformers_parameter_count(config)
