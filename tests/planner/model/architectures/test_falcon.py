"""Falcon: MQA / grouped "new decoder architecture" / MHA, parallel or sequential blocks, checked against transformers."""

import pytest

from planner.errors import InvalidFieldError
from planner.model import AttentionKind, Role, model_from_config
from tests.planner.model.architectures._compare import catalog_config, shapes_by_name
from verify.meta_count import transformers_parameters

BASE = {
    "model_type": "falcon",
    "hidden_size": 64,
    "num_hidden_layers": 3,
    "num_attention_heads": 8,
    "vocab_size": 300,
}

CASES = {
    "7b-like": {"multi_query": True, "parallel_attn": True},
    "40b-like": {"new_decoder_architecture": True, "num_kv_heads": 2},
    "11b-like": {"new_decoder_architecture": True, "num_kv_heads": 2, "num_ln_in_parallel_attn": 1},
    "rw-1b-like": {"alibi": True, "bias": True, "multi_query": False, "parallel_attn": False},
    "mha-parallel": {"multi_query": False},
    "untied-ffn": {"tie_word_embeddings": False, "ffn_hidden_size": 96, "bias": True},
}


@pytest.mark.parametrize("case", CASES)
def test_tensors_match_transformers_one_to_one(case):
    config = BASE | CASES[case]
    assert shapes_by_name(model_from_config(config).tensors) == transformers_parameters(config)


@pytest.mark.parametrize(
    ("model_id", "hub_total"),
    [
        ("tiiuae/falcon-7b", 7_217_189_760),
        ("tiiuae/falcon-40b", 41_835_970_560),
        ("tiiuae/falcon-180B", 179_522_565_120),
    ],
)
def test_published_configs_match_transformers(model_id, hub_total):
    config = catalog_config(model_id)
    spec = model_from_config(config)
    assert shapes_by_name(spec.tensors) == transformers_parameters(config)
    # The Hub counts the checkpoint's stored copy of the tied head; the loaded model holds it once.
    assert hub_total - spec.total_parameters == config["vocab_size"] * config["hidden_size"]


def test_multi_query_caches_one_kv_head():
    spec = model_from_config(catalog_config("tiiuae/falcon-7b"))
    qkv = next(t for t in spec.tensors if t.role is Role.ATTN_QKV)
    assert (
        qkv.shape == (4544 + 2 * 64, 4544)
        and qkv.name == "transformer.h.*.self_attention.query_key_value.weight"
    )
    assert {(layer.attention, layer.kv_heads, layer.k_head_dim) for layer in spec.layers} == {
        (AttentionKind.FULL, 1, 64)
    }
    norms = sorted(t.name for t in spec.tensors if "layernorm" in t.name or "ln_" in t.name)
    assert norms == [
        "transformer.h.*.input_layernorm.bias", "transformer.h.*.input_layernorm.weight",
        "transformer.ln_f.bias", "transformer.ln_f.weight",
    ]  # fmt: skip


def test_new_architecture_groups_kv_heads_and_has_two_norms():
    spec = model_from_config(catalog_config("tiiuae/falcon-40b"))
    qkv = next(t for t in spec.tensors if t.role is Role.ATTN_QKV)
    assert qkv.shape == ((128 + 2 * 8) * 64, 8192)
    assert {layer.kv_heads for layer in spec.layers} == {8}
    names = {t.name for t in spec.tensors}
    assert {"transformer.h.*.ln_attn.weight", "transformer.h.*.ln_mlp.bias"} <= names
    assert any("16x" in n for n in spec.notes)  # transformers expands K/V before caching


def test_sequential_mha_with_bias():
    spec = model_from_config(BASE | CASES["rw-1b-like"])
    assert {layer.kv_heads for layer in spec.layers} == {8}
    names = {t.name for t in spec.tensors}
    assert {
        "transformer.h.*.input_layernorm.weight",
        "transformer.h.*.post_attention_layernorm.weight",
    } <= names
    assert "transformer.h.*.mlp.dense_h_to_4h.bias" in names
    assert any("ALiBi" in n for n in spec.notes)


def test_tied_head_is_counted_once():
    spec = model_from_config(catalog_config("tiiuae/falcon-7b"))
    assert spec.tied_embeddings
    assert [t.name for t in spec.tensors if t.role in (Role.EMBEDDING, Role.LM_HEAD)] == [
        "transformer.word_embeddings.weight"
    ]
    untied = model_from_config(BASE | CASES["untied-ffn"])
    assert any(t.role is Role.LM_HEAD for t in untied.tensors)


def test_legacy_field_names_and_model_types():
    """RefinedWeb configs: n_embed/n_layer/n_head/n_head_kv, and the model type implies the layout."""
    current_40b = BASE | {"new_decoder_architecture": True, "num_kv_heads": 2}
    legacy_40b = {
        "model_type": "RefinedWeb",
        "n_embed": 64,
        "n_layer": 3,
        "n_head": 8,
        "n_head_kv": 2,
        "vocab_size": 300,
    }
    assert model_from_config(legacy_40b).tensors == model_from_config(current_40b).tensors
    legacy_7b = {
        "model_type": "RefinedWebModel",
        "hidden_size": 64,
        "n_layer": 3,
        "n_head": 8,
        "vocab_size": 300,
    }
    assert model_from_config(legacy_7b).tensors == model_from_config(BASE | CASES["7b-like"]).tensors
    legacy_names = BASE | {"new_decoder_architecture": True, "n_head_kv": 2}
    assert model_from_config(legacy_names).tensors == model_from_config(current_40b).tensors


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"num_attention_heads": 7}, "num_attention_heads"),
        ({"new_decoder_architecture": True, "num_kv_heads": 3}, "num_kv_heads"),
        ({"multi_query": "yes"}, "multi_query"),
        ({"num_ln_in_parallel_attn": 3}, "num_ln_in_parallel_attn"),
        ({"ffn_hidden_size": -1}, "ffn_hidden_size"),
    ],
)
def test_bad_values_raise_planner_errors(change, field):
    with pytest.raises(InvalidFieldError) as info:
        model_from_config(BASE | change)
    assert info.value.field == field
