"""model_from_config: dispatch, wrappers, unknown architectures, hostile fields."""

import json

import pytest

from planner.errors import ConfigError, InvalidFieldError, MissingFieldError
from planner.model import AttentionKind, Role, model_from_bytes, model_from_config

LLAMA_TINY = {
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 160,
    "num_hidden_layers": 3,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "vocab_size": 1000,
}


def test_tiny_llama_exact_tensors():
    spec = model_from_config(LLAMA_TINY)
    shapes = {t.name: (t.shape, t.count) for t in spec.tensors}
    head_dim = 64 // 8
    assert shapes["model.layers.*.self_attn.k_proj.weight"] == ((2 * head_dim, 64), 3)
    assert shapes["model.layers.*.mlp.down_proj.weight"] == ((64, 160), 3)
    embed = 1000 * 64
    per_layer = 64 * 64 * 2 + 2 * (16 * 64) + 3 * 64 * 160 + 2 * 64
    assert spec.total_parameters == 2 * embed + 64 + 3 * per_layer
    assert spec.active_parameters == spec.total_parameters
    assert [layer.kv_elements_per_token for layer in spec.layers] == [2 * 2 * head_dim] * 3


def test_tied_embeddings_are_counted_once():
    untied = model_from_config(LLAMA_TINY)
    tied = model_from_config(LLAMA_TINY | {"tie_word_embeddings": True})
    assert untied.total_parameters - tied.total_parameters == 1000 * 64
    assert Role.LM_HEAD not in tied.parameters_by_role()
    assert tied.tied_embeddings


def test_explicit_head_dim_wins_over_hidden_over_heads():
    spec = model_from_config(LLAMA_TINY | {"head_dim": 32})
    q = next(t for t in spec.tensors if t.role is Role.ATTN_Q)
    assert q.shape == (8 * 32, 64)
    assert spec.layers[0].k_head_dim == 32


def test_unknown_architecture_gets_flagged_generic_estimate():
    spec = model_from_config(LLAMA_TINY | {"model_type": "brand_new_lm"})
    assert spec.approximate
    assert spec.total_parameters == model_from_config(LLAMA_TINY).total_parameters
    assert any("not a known architecture" in n for n in spec.notes)


def test_unknown_wrapper_counts_text_config_and_says_so():
    spec = model_from_config({"model_type": "future_vlm", "text_config": LLAMA_TINY, "vision_config": {}})
    assert spec.approximate
    assert spec.total_parameters == model_from_config(LLAMA_TINY).total_parameters
    assert any("text_config" in n for n in spec.notes)


def test_auto_map_is_reported_never_executed():
    spec = model_from_config(LLAMA_TINY | {"auto_map": {"AutoModel": "evil.Model"}})
    assert any("never runs it" in n for n in spec.notes)


def test_missing_required_field_names_it():
    config = dict(LLAMA_TINY)
    del config["intermediate_size"]
    with pytest.raises(MissingFieldError, match="intermediate_size"):
        model_from_config(config)


def test_absurd_layer_count_is_refused():
    with pytest.raises(InvalidFieldError, match="num_hidden_layers"):
        model_from_config(LLAMA_TINY | {"num_hidden_layers": 10**9})


def test_kv_heads_must_divide_heads():
    with pytest.raises(InvalidFieldError, match="num_key_value_heads"):
        model_from_config(LLAMA_TINY | {"num_key_value_heads": 3})


def test_not_a_model_config():
    with pytest.raises(ConfigError, match="model config"):
        model_from_config({"foo": 1})


def test_bad_model_type_type():
    with pytest.raises(InvalidFieldError, match="model_type"):
        model_from_config(LLAMA_TINY | {"model_type": ["llama"]})


def test_from_bytes_roundtrip():
    spec = model_from_bytes(json.dumps(LLAMA_TINY).encode(), name="tiny")
    assert spec.name == "tiny"
    assert spec.num_layers == 3
    assert all(layer.attention is AttentionKind.FULL for layer in spec.layers)


def test_legacy_names_are_understood():
    legacy = {"n_layer": 3, "n_embd": 64, "n_head": 8, "n_inner": 160, "vocab_size": 1000}
    spec = model_from_config(legacy | {"model_type": "somegpt"})
    assert spec.num_layers == 3
    assert spec.hidden_size == 64
