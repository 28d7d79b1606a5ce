"""Gemma 1/2/3: explicit head_dim, tied head, extra norms, sliding pattern, SigLIP tower."""

import pytest

from planner.model import AttentionKind, Role, model_from_config
from verify.meta_count import transformers_parameter_count

TEXT = {
    "hidden_size": 48,
    "intermediate_size": 80,
    "num_hidden_layers": 7,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 32,
    "vocab_size": 300,
    "sliding_window": 16,
}
VISION = {
    "model_type": "siglip_vision_model",
    "hidden_size": 32,
    "intermediate_size": 40,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "image_size": 56,
    "patch_size": 14,
    "vision_use_head": False,
}


@pytest.mark.parametrize("model_type", ["gemma", "gemma2", "gemma3_text"])
def test_text_models_match_transformers(model_type):
    config = TEXT | {"model_type": model_type}
    assert model_from_config(config).total_parameters == transformers_parameter_count(config)


def test_multimodal_gemma3_matches_transformers():
    config = {
        "model_type": "gemma3",
        "text_config": TEXT | {"model_type": "gemma3_text"},
        "vision_config": VISION,
    }
    spec = model_from_config(config)
    assert spec.total_parameters == transformers_parameter_count(config)
    roles = spec.parameters_by_role()
    # the projection [vision hidden, text hidden] and its soft-embedding norm (llama.cpp's mmproj tensors)
    assert roles[Role.PROJECTOR] == 32 * 48 + 32
    # SigLIP, by hand: patch conv 3 x 14 x 14 x 32 + 32, positions (56 / 14)^2 x 32, per layer two
    # LayerNorms (2 x 64), q/k/v/o (4 x (32 x 32 + 32)), fc1 32 x 40 + 40, fc2 40 x 32 + 32; post LayerNorm 64
    # (transformers' model.vision_tower holds the same 33,392 parameters)
    layer = 2 * 64 + 4 * (32 * 32 + 32) + (32 * 40 + 40) + (40 * 32 + 32)
    assert roles[Role.VISION] == (3 * 14 * 14 * 32 + 32) + 16 * 32 + 2 * layer + 64 == 33_392


def test_siglip_attention_pooling_head_is_counted_when_enabled():
    with_head = {
        "model_type": "gemma3",
        "text_config": TEXT,
        "vision_config": VISION | {"vision_use_head": True},
    }
    without = {"model_type": "gemma3", "text_config": TEXT, "vision_config": VISION}
    extra = model_from_config(with_head).total_parameters - model_from_config(without).total_parameters
    h, i = 32, 40
    assert extra == h + (3 * h * h + 3 * h) + (h * h + h) + 2 * h + (i * h + i) + (h * i + h)


def test_head_is_tied_by_default():
    spec = model_from_config(TEXT | {"model_type": "gemma2"})
    assert spec.tied_embeddings
    assert Role.LM_HEAD not in spec.parameters_by_role()


def test_gemma2_alternates_starting_with_sliding():
    spec = model_from_config(TEXT | {"model_type": "gemma2"})
    assert [layer.attention.value for layer in spec.layers] == ["sliding", "full"] * 3 + ["sliding"]
    assert spec.layers[0].window == 16
    assert spec.layers[1].window is None


def test_gemma3_five_local_one_global():
    spec = model_from_config(TEXT | {"model_type": "gemma3_text"})
    kinds = [layer.attention for layer in spec.layers]
    assert kinds == [AttentionKind.SLIDING] * 5 + [AttentionKind.FULL, AttentionKind.SLIDING]


def test_explicit_layer_types_override_the_pattern():
    config = TEXT | {"model_type": "gemma3_text", "layer_types": ["full_attention"] * 7}
    assert {layer.attention for layer in model_from_config(config).layers} == {AttentionKind.FULL}


def test_head_dim_is_not_hidden_over_heads():
    spec = model_from_config(TEXT | {"model_type": "gemma"})
    q = next(t for t in spec.tensors if t.role is Role.ATTN_Q)
    assert q.shape == (4 * 32, 48)  # 128 rows, though hidden is 48
