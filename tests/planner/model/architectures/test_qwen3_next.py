"""Qwen3-Next (``qwen3_next``): gated DeltaNet + gated attention, MoE with a gated shared expert."""

from pathlib import Path

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

# NOTE: kept as a test fixture, not a catalog entry: its only exact published total (Hub metadata)
# includes the mtp.* block that transformers does not load, so it cannot pass the catalog's 0.1% check.
FIXTURE_CONFIGS = Path(__file__).resolve().parents[3] / "fixtures" / "configs"

BASE = {
    "model_type": "qwen3_next",
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 8,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "vocab_size": 300,
    "linear_num_key_heads": 2,
    "linear_num_value_heads": 4,
    "linear_key_head_dim": 8,
    "linear_value_head_dim": 12,
    "linear_conv_kernel_dim": 4,
    "num_experts": 8,
    "num_experts_per_tok": 2,
    "moe_intermediate_size": 16,
    "shared_expert_intermediate_size": 24,
}

CASES = {
    "default": {},
    "interval-3-dense-layers": {
        "full_attention_interval": 3,
        "mlp_only_layers": [0, 5],
        "decoder_sparse_step": 2,
    },
    "explicit-layer-types": {
        "layer_types": ["full_attention", "linear_attention"] * 4,
        "attention_bias": True,
        "tie_word_embeddings": True,
    },
    "dense": {"num_experts": 0},
}


@pytest.mark.parametrize("case", CASES)
def test_tensors_match_transformers(case):
    assert_matches_transformers(BASE | CASES[case])


def test_layer_kinds_and_moe_placement():
    spec = model_from_config(BASE | CASES["interval-3-dense-layers"])
    assert [layer.index for layer in spec.layers if layer.attention is AttentionKind.FULL] == [2, 5]
    # sparse on every 2nd layer ((i + 1) % 2 == 0) except those listed in mlp_only_layers
    assert [layer.index for layer in spec.layers if layer.moe] == [1, 3, 7]


def test_80b_matches_transformers():
    entry = catalog_entry("Qwen/Qwen3-Next-80B-A3B-Instruct", FIXTURE_CONFIGS)
    spec = assert_matches_transformers(entry["config"])
    assert spec.total_parameters == transformers_parameter_count(entry["config"]) == 79_674_391_296
    full = [layer.index for layer in spec.layers if layer.attention is AttentionKind.FULL]
    assert full == list(range(3, 48, 4))
    assert all(layer.moe for layer in spec.layers)
    # conv window [2*16*128 + 32*128, 4] + recurrent state [32 value heads, 128, 128]
    assert {layer.state_elements for layer in spec.layers if layer.index not in full} == {
        8192 * 4 + 32 * 128 * 128
    }
    assert {layer.kv_elements_per_token for layer in spec.layers if layer.index in full} == {2 * 2 * 256}


def test_80b_hub_total_includes_the_mtp_block_the_planner_skips():
    entry = catalog_entry("Qwen/Qwen3-Next-80B-A3B-Instruct", FIXTURE_CONFIGS)
    spec = model_from_config(entry["config"])
    missing = entry["reference"]["total"] - spec.total_parameters  # mtp.* in the checkpoint
    assert 1.6e9 < missing < 1.7e9
    assert any("mtp" in note for note in spec.notes)


def test_80b_active_parameters():
    spec = model_from_config(catalog_entry("Qwen/Qwen3-Next-80B-A3B-Instruct", FIXTURE_CONFIGS)["config"])
    routed = sum(t.parameters for t in spec.tensors if t.role in ROUTED_EXPERT_ROLES)
    assert spec.total_parameters - spec.active_parameters == routed * 502 // 512
    assert spec.active_parameters == pytest.approx(3.9e9, rel=0.02)  # NVIDIA's card: 3.9B active
    assert spec.n_experts == 512 and spec.n_experts_per_token == 10


def test_gate_is_fused_into_q_proj_and_shared_expert_is_gated():
    by_name = {t.name: t for t in model_from_config(BASE).tensors}
    q = by_name["model.layers.*.self_attn.q_proj.weight"]
    assert q.role is Role.ATTN_Q and q.shape == (2 * 4 * 16, 64)  # query and output gate together
    assert not any(t.role is Role.ATTN_GATE for t in by_name.values())
    assert by_name["model.layers.*.self_attn.q_norm.weight"].shape == (16,)
    gate = by_name["model.layers.*.mlp.shared_expert_gate.weight"]
    assert gate.role is Role.SHARED_EXPERT_ROUTER and gate.shape == (1, 64)
    assert by_name["model.layers.*.mlp.gate.weight"].role is Role.ROUTER
    assert by_name["model.layers.*.mlp.shared_expert.up_proj.weight"].role is Role.SHARED_EXPERT_UP
    experts = by_name["model.layers.*.mlp.experts.*.down_proj.weight"]
    assert experts.role is Role.EXPERT_DOWN and experts.active_fraction == (2, 8)
    linear = "model.layers.*.linear_attn"
    assert by_name[f"{linear}.in_proj_qkvz.weight"].shape == (2 * 16 + 2 * 48, 64)
    assert by_name[f"{linear}.in_proj_ba.weight"].shape == (8, 64)
    assert by_name[f"{linear}.conv1d.weight"].role is Role.SSM_CONV
    assert f"{linear}.conv1d.bias" not in by_name
    assert by_name[f"{linear}.A_log"].role is Role.SSM_PARAM
    assert by_name[f"{linear}.norm.weight"].shape == (12,)  # one value head, shared


def test_state_elements_equal_transformers_cache():
    assert_cache_matches_transformers(BASE | {"num_hidden_layers": 4})


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"linear_num_value_heads": 3}, "linear_num_value_heads"),
        ({"layer_types": ["linear_attention"] * 7 + ["mamba2_ish"]}, "layer_types[7]"),
        ({"layer_types": ["sliding_attention"] * 8}, "layer_types[0]"),
        ({"num_experts_per_tok": 9}, "num_experts_per_tok"),
        ({"num_key_value_heads": 3}, "num_key_value_heads"),
        ({"full_attention_interval": 0}, "full_attention_interval"),
        ({"mlp_only_layers": "all"}, "mlp_only_layers"),
        ({"head_dim": True}, "head_dim"),
    ],
)
def test_bad_values_raise_planner_errors(change, field):
    with pytest.raises(InvalidFieldError) as err:
        model_from_config(BASE | change)
    assert err.value.field == field
