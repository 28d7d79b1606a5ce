"""Jamba (``jamba``): layer pattern, MoE placement, recurrent state, checked against transformers."""

import pytest

from planner.errors import InvalidFieldError
from planner.model import AttentionKind, Role, model_from_config
from planner.model.spec import ROUTED_EXPERT_ROLES
from tests.planner.model.architectures._compare import (
    assert_cache_matches_transformers,
    assert_matches_transformers,
    catalog_entry,
)
from verify.meta_count import transformers_parameter_count

BASE = {
    "model_type": "jamba",
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 8,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 300,
    "num_experts": 4,
    "num_experts_per_tok": 2,
    "attn_layer_period": 4,
    "attn_layer_offset": 2,
    "expert_layer_period": 2,
    "expert_layer_offset": 1,
    "mamba_d_state": 8,
}

CASES = {
    "default": {},
    "alias-tied": {
        "num_experts": None,
        "num_local_experts": 3,
        "num_experts_per_tok": 1,
        "tie_word_embeddings": True,
        "expert_layer_period": 3,
        "expert_layer_offset": 0,
    },
    "dense": {"num_experts": 1, "mamba_dt_rank": 5, "mamba_proj_bias": True, "mamba_conv_bias": False},
    "explicit-head-dim": {"head_dim": 8, "mamba_expand": 3, "mamba_d_conv": 3},
}


@pytest.mark.parametrize("case", CASES)
def test_tensors_match_transformers(case):
    config = {k: v for k, v in (BASE | CASES[case]).items() if v is not None}
    assert_matches_transformers(config)


def test_layer_pattern_and_moe_placement():
    spec = model_from_config(BASE)
    kinds = [layer.attention for layer in spec.layers]
    assert [i for i, k in enumerate(kinds) if k is AttentionKind.FULL] == [2, 6]
    assert [layer.index for layer in spec.layers if layer.moe] == [1, 3, 5, 7]
    attn = spec.layers[2]
    assert attn.kv_heads == 2 and attn.k_head_dim == attn.v_head_dim == 16
    assert spec.n_experts == 4 and spec.n_experts_per_token == 2


def test_dense_jamba_has_no_experts():
    spec = model_from_config(BASE | CASES["dense"])
    assert not spec.is_moe and not any(layer.moe for layer in spec.layers)
    assert spec.active_parameters == spec.total_parameters


def test_explicit_layers_block_type_is_read():
    blocks = ["mamba", "attention"] * 4
    spec = model_from_config(BASE | {"layers_block_type": blocks})
    assert [layer.attention is AttentionKind.FULL for layer in spec.layers] == [
        b == "attention" for b in blocks
    ]


def test_jamba_v01_matches_transformers_and_hub():
    entry = catalog_entry("ai21labs/Jamba-v0.1")
    spec = assert_matches_transformers(entry["config"])
    assert spec.total_parameters == transformers_parameter_count(entry["config"])
    assert spec.total_parameters == pytest.approx(entry["reference"]["total"], rel=1e-4)  # Hub: 51.57B
    attention = [layer.index for layer in spec.layers if layer.attention is AttentionKind.FULL]
    assert attention == [4, 12, 20, 28]
    assert [layer.index for layer in spec.layers if layer.moe] == list(range(1, 32, 2))
    # mamba layers: conv window [8192, 4] + SSM state [8192, 16]
    assert {layer.state_elements for layer in spec.layers if layer.index not in attention} == {8192 * 20}
    assert {layer.kv_elements_per_token for layer in spec.layers if layer.index in attention} == {2 * 8 * 128}


def test_jamba_v01_active_parameters_run_2_of_16_experts():
    spec = model_from_config(catalog_entry("ai21labs/Jamba-v0.1")["config"])
    routed = sum(t.parameters for t in spec.tensors if t.role in ROUTED_EXPERT_ROLES)
    assert spec.total_parameters - spec.active_parameters == routed * 14 // 16
    assert spec.active_parameters == pytest.approx(12e9, rel=0.02)  # model card: 12B active


def test_roles_and_inner_norms():
    by_name = {t.name: t for t in model_from_config(BASE).tensors}
    mamba = "model.layers.*.mamba"
    for norm, width in (("dt_layernorm", 4), ("b_layernorm", 8), ("c_layernorm", 8)):  # dt rank ceil(64/16)
        assert by_name[f"{mamba}.{norm}.weight"].role is Role.NORM
        assert by_name[f"{mamba}.{norm}.weight"].shape == (width,)
    assert by_name[f"{mamba}.x_proj.weight"].shape == (4 + 2 * 8, 128)
    assert by_name["model.layers.*.feed_forward.router.weight"].role is Role.ROUTER
    expert = by_name["model.layers.*.feed_forward.experts.*.gate_proj.weight"]
    assert expert.role is Role.EXPERT_GATE and expert.count == 4 * 4 and expert.active_fraction == (2, 4)
    assert by_name["model.layers.*.feed_forward.gate_proj.weight"].role is Role.MLP_GATE


def test_state_elements_equal_transformers_cache():
    assert_cache_matches_transformers(BASE | {"num_hidden_layers": 4})


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"attn_layer_offset": 4}, "attn_layer_offset"),
        ({"expert_layer_offset": 2}, "expert_layer_offset"),
        ({"attn_layer_period": 0}, "attn_layer_period"),
        ({"num_experts_per_tok": 5}, "num_experts_per_tok"),
        ({"num_key_value_heads": 3}, "num_key_value_heads"),
        ({"layers_block_type": ["mamba"] * 7 + ["moe"]}, "layers_block_type[7]"),
        ({"layers_block_type": ["mamba"] * 3}, "layers_block_type"),
        ({"mamba_dt_rank": "wide"}, "mamba_dt_rank"),
    ],
)
def test_bad_values_raise_planner_errors(change, field):
    with pytest.raises(InvalidFieldError) as err:
        model_from_config(BASE | change)
    assert err.value.field == field
