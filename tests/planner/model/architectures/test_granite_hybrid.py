"""Granite 4.0-H (``granitemoehybrid``): Mamba-2 / attention layers, shared MLP, optional MoE."""

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
    "model_type": "granitemoehybrid",
    "hidden_size": 64,
    "intermediate_size": 32,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 300,
    "layer_types": ["mamba", "attention", "mamba", "mamba"],
    "num_local_experts": 4,
    "num_experts_per_tok": 2,
    "shared_intermediate_size": 48,
    "mamba_n_heads": 8,
    "mamba_d_state": 16,
    "mamba_n_groups": 2,
    "tie_word_embeddings": True,
    "position_embedding_type": "nope",
}

CASES = {
    "moe": {},
    "dense-bias": {"num_local_experts": 0, "num_experts_per_tok": 0, "attention_bias": True},
    "all-mamba-default": {
        "layer_types": None,
        "mamba_d_head": 16,
        "mamba_n_groups": 1,
        "mamba_proj_bias": True,
    },
    "new-spelling-rope": {
        "layer_types": ["linear_attention", "full_attention", "full_attention", "linear_attention"],
        "position_embedding_type": "rope",
        "mamba_conv_bias": False,
        "mamba_d_conv": 3,
        "tie_word_embeddings": False,
    },
}

#: ibm-granite/granite-4.0-h-tiny geometry (attention on layers 5, 15, 25, 35; 64 experts, 6 active).
H_TINY = {
    "model_type": "granitemoehybrid",
    "hidden_size": 1536,
    "num_hidden_layers": 40,
    "num_attention_heads": 12,
    "num_key_value_heads": 4,
    "intermediate_size": 512,
    "shared_intermediate_size": 1024,
    "num_local_experts": 64,
    "num_experts_per_tok": 6,
    "vocab_size": 100352,
    "tie_word_embeddings": True,
    "mamba_d_state": 128,
    "mamba_n_groups": 1,
    "mamba_n_heads": 48,
    "mamba_d_head": 64,
    "mamba_expand": 2,
    "mamba_d_conv": 4,
    "layer_types": ["attention" if i in (5, 15, 25, 35) else "mamba" for i in range(40)],
}

#: Checkpoint names -> transformers 5.x names (conversion_mapping.py, "granitemoe").
RENAMES = {".block_sparse_moe.router.layer.weight": ".block_sparse_moe.router.weight"}


@pytest.mark.parametrize("case", CASES)
def test_tensors_match_transformers(case):
    config = {k: v for k, v in (BASE | CASES[case]).items() if v is not None}
    assert_matches_transformers(config, RENAMES)


def test_h_small_matches_transformers_and_hub():
    entry = catalog_entry("ibm-granite/granite-4.0-h-small")
    spec = assert_matches_transformers(entry["config"], RENAMES)
    assert spec.total_parameters == entry["reference"]["total"] == 32_207_337_984
    attention = [layer.index for layer in spec.layers if layer.attention is AttentionKind.FULL]
    assert attention == [5, 15, 25, 35]
    assert all(layer.moe for layer in spec.layers)  # every layer: shared MLP + 72 experts
    conv_dim = 8192 + 2 * 1 * 128
    assert {layer.state_elements for layer in spec.layers if layer.index not in attention} == {
        conv_dim * 4 + 128 * 64 * 128
    }
    assert {layer.kv_elements_per_token for layer in spec.layers if layer.index in attention} == {2 * 8 * 128}
    routed = sum(t.parameters for t in spec.tensors if t.role in ROUTED_EXPERT_ROLES)
    assert spec.total_parameters - spec.active_parameters == routed * 62 // 72
    assert spec.active_parameters == pytest.approx(9e9, rel=0.03)  # IBM: "9B active"


def test_h_micro_is_dense_and_matches_transformers():
    entry = catalog_entry("ibm-granite/granite-4.0-h-micro")
    spec = assert_matches_transformers(entry["config"], RENAMES)
    assert spec.total_parameters == entry["reference"]["total"]
    assert not spec.is_moe and spec.active_parameters == spec.total_parameters
    assert not any(t.role in ROUTED_EXPERT_ROLES or t.role is Role.ROUTER for t in spec.tensors)


def test_h_tiny_matches_transformers():
    spec = model_from_config(H_TINY)
    assert spec.total_parameters == transformers_parameter_count(H_TINY)
    assert spec.n_experts == 64 and spec.n_experts_per_token == 6


def test_roles_shared_mlp_and_experts():
    by_name = {t.name: t for t in model_from_config(BASE).tensors}
    layer = "model.layers.*"
    assert by_name[f"{layer}.shared_mlp.input_linear.weight"].role is Role.MLP_GATE_UP
    assert by_name[f"{layer}.shared_mlp.input_linear.weight"].shape == (96, 64)
    assert by_name[f"{layer}.shared_mlp.output_linear.weight"].role is Role.MLP_DOWN
    assert by_name[f"{layer}.block_sparse_moe.router.layer.weight"].role is Role.ROUTER
    gate_up = by_name[f"{layer}.block_sparse_moe.input_linear.weight"]
    assert gate_up.role is Role.EXPERT_GATE_UP and gate_up.shape == (64, 64)
    assert gate_up.count == 4 * 4 and gate_up.active_fraction == (2, 4)
    assert by_name[f"{layer}.mamba.in_proj.weight"].role is Role.SSM_IN
    assert by_name[f"{layer}.mamba.norm.weight"].shape == (128,)


def test_nope_is_noted():
    assert any("NoPE" in note for note in model_from_config(BASE).notes)
    rope = model_from_config(BASE | {"position_embedding_type": "rope"})
    assert not any("NoPE" in note for note in rope.notes)


def test_state_elements_equal_transformers_cache():
    assert_cache_matches_transformers(BASE)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"mamba_d_head": 32}, "mamba_d_head"),  # 8 x 32 != 2 x 64
        ({"mamba_n_heads": 500}, "mamba_n_heads"),  # more heads than channels
        ({"mamba_n_groups": 3}, "mamba_n_groups"),
        ({"layer_types": ["mamba", "sliding_attention", "mamba", "mamba"]}, "layer_types[1]"),
        ({"layer_types": ["mamba", "attention"]}, "layer_types"),
        ({"num_experts_per_tok": 8}, "num_experts_per_tok"),
        ({"num_local_experts": -1}, "num_local_experts"),
        ({"mamba_expand": 0.3}, "mamba_expand"),
    ],
)
def test_bad_values_raise_planner_errors(change, field):
    with pytest.raises(InvalidFieldError) as err:
        model_from_config(BASE | change)
    assert err.value.field == field
