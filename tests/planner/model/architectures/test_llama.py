"""Llama-style families, checked tensor by tensor against transformers' own modeling code."""

import pytest

from planner.model import AttentionKind, Role, model_from_config
from tests.planner.model.architectures._compare import numel
from verify.meta_count import transformers_parameters

BASE = {
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 4,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "vocab_size": 500,
}

CASES = {
    "llama": {"model_type": "llama"},
    "llama-bias": {"model_type": "llama", "attention_bias": True, "mlp_bias": True},
    "llama-tied": {"model_type": "llama", "tie_word_embeddings": True},
    "mistral-head-dim": {"model_type": "mistral", "head_dim": 16, "sliding_window": 32},
    "mixtral": {"model_type": "mixtral", "num_local_experts": 4, "num_experts_per_tok": 2},
    "qwen2": {"model_type": "qwen2", "tie_word_embeddings": True},
    "qwen2_moe": {
        "model_type": "qwen2_moe",
        "num_experts": 6,
        "num_experts_per_tok": 2,
        "moe_intermediate_size": 32,
        "shared_expert_intermediate_size": 48,
        "decoder_sparse_step": 2,
        "mlp_only_layers": [3],
    },
    "qwen3": {"model_type": "qwen3", "head_dim": 16},
    "qwen3_moe": {
        "model_type": "qwen3_moe",
        "head_dim": 16,
        "num_experts": 8,
        "num_experts_per_tok": 2,
        "moe_intermediate_size": 24,
        "mlp_only_layers": [0],
    },
    "phi3": {"model_type": "phi3", "sliding_window": 16},
}


def _planner_shapes(spec):
    """Planner tensors as a multiset of shapes, experts stacked like transformers stores them."""
    return sorted(t.numel for t in spec.tensors for _ in range(t.count))


@pytest.mark.parametrize("case", CASES)
def test_total_matches_transformers(case):
    config = BASE | CASES[case]
    spec = model_from_config(config)
    reference = transformers_parameters(config)
    assert spec.total_parameters == sum(numel(s) for s in reference.values())


@pytest.mark.parametrize("case", ["llama", "llama-bias", "qwen2", "qwen3", "phi3", "mistral-head-dim"])
def test_dense_tensors_match_one_to_one(case):
    """Dense models: every planner tensor is a transformers parameter of the same shape."""
    config = BASE | CASES[case]
    reference = transformers_parameters(config)
    spec = model_from_config(config)
    expanded = {}
    for t in spec.tensors:
        for layer in t.layers or (None,):
            expanded[t.name.replace("*", str(layer)) if layer is not None else t.name] = t.shape
    assert expanded == reference


def test_qwen2_has_qkv_bias_but_no_o_bias():
    spec = model_from_config(BASE | CASES["qwen2"])
    biases = {t.name for t in spec.tensors if t.role is Role.BIAS}
    assert biases == {f"model.layers.*.self_attn.{p}_proj.bias" for p in "qkv"}


def test_mixtral_active_parameters_use_top_k():
    spec = model_from_config(BASE | CASES["mixtral"])
    experts = sum(t.parameters for t in spec.tensors if t.role.value.startswith("expert_"))
    assert spec.total_parameters - spec.active_parameters == experts // 2  # 2 of 4 experts idle
    assert all(layer.moe for layer in spec.layers)


def test_qwen_moe_sparse_step_and_dense_layers():
    spec = model_from_config(BASE | CASES["qwen2_moe"])
    # step 2: layers 1 and 3 would route; 3 is listed dense
    assert [layer.moe for layer in spec.layers] == [False, True, False, False]
    router = next(t for t in spec.tensors if t.role is Role.SHARED_EXPERT_ROUTER)
    assert router.shape == (1, 64)


def test_mistral_window_on_every_layer():
    spec = model_from_config(BASE | CASES["mistral-head-dim"])
    assert {(layer.attention, layer.window) for layer in spec.layers} == {(AttentionKind.SLIDING, 32)}
    assert spec.layers[0].kv_elements_per_token == 2 * 2 * 16


def test_qwen2_slides_only_past_max_window_layers_when_enabled():
    config = BASE | {"model_type": "qwen2", "sliding_window": 8, "max_window_layers": 2}
    assert {layer.attention for layer in model_from_config(config).layers} == {AttentionKind.FULL}
    spec = model_from_config(config | {"use_sliding_window": True})
    assert [layer.attention.value for layer in spec.layers] == ["full", "full", "sliding", "sliding"]


def test_phi3_fuses_projections():
    roles = model_from_config(BASE | CASES["phi3"]).parameters_by_role()
    assert roles[Role.ATTN_QKV] == 4 * (64 + 2 * 16) * 64
    assert roles[Role.MLP_GATE_UP] == 4 * 2 * 96 * 64
    assert Role.ATTN_Q not in roles


def test_qwen3_moe_as_transformers_5_saves_it():
    """transformers 5.x writes num_local_experts (Qwen3MoeConfig.attribute_map), not num_experts."""
    from tests.planner.model.architectures._compare import assert_matches_transformers, transformers_default

    config = transformers_default("qwen3_moe", num_hidden_layers=2)
    assert "num_experts" not in config and config["num_local_experts"] == 128
    assert_matches_transformers(config)
