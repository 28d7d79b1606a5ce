"""gpt-oss: sinks, alternating sliding windows and biased MoE experts, checked against transformers."""

import re

import pytest

from planner.errors import InvalidFieldError, MissingFieldError
from planner.model import AttentionKind, Role, model_from_config
from planner.model.spec import ROUTED_EXPERT_ROLES
from tests.planner.model.architectures._compare import (
    catalog_config,
    parameters_by_name,
    reference_parameters,
)
from verify.meta_count import transformers_parameters

BASE = {
    "model_type": "gpt_oss",
    "hidden_size": 48,
    "intermediate_size": 40,
    "num_hidden_layers": 4,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "head_dim": 16,  # not hidden / heads, as in the real models
    "vocab_size": 300,
    "num_local_experts": 6,
    "num_experts_per_tok": 2,
    "sliding_window": 8,
}

CASES = {
    "default-layer-types": {},
    "explicit-layer-types": {
        "layer_types": ["full_attention", "sliding_attention", "sliding_attention", "full_attention"]
    },
    "no-attention-bias": {"attention_bias": False},
    "tied": {"tie_word_embeddings": True},
}


@pytest.mark.parametrize("case", CASES)
def test_tensors_match_transformers(case):
    config = BASE | CASES[case]
    spec = model_from_config(config)
    assert parameters_by_name(spec) == reference_parameters(transformers_parameters(config))


@pytest.mark.parametrize("model_id", ["openai/gpt-oss-20b", "openai/gpt-oss-120b"])
def test_published_configs_match_transformers(model_id):
    config = catalog_config(model_id)
    spec = model_from_config(config)
    reference = transformers_parameters(config)
    assert parameters_by_name(spec) == reference_parameters(reference)
    assert (
        spec.total_parameters
        == {"openai/gpt-oss-20b": 20_914_757_184, "openai/gpt-oss-120b": 116_829_156_672}[model_id]
    )


def test_experts_are_recorded_per_expert_with_biases():
    spec = model_from_config(catalog_config("openai/gpt-oss-120b"))
    by_name = {
        t.name.removeprefix("model.layers.*.mlp.experts."): t for t in spec.tensors if ".experts." in t.name
    }
    assert {name: (t.role, t.shape) for name, t in by_name.items()} == {
        "gate_up_proj": (Role.EXPERT_GATE_UP, (2 * 2880, 2880)),
        "gate_up_proj_bias": (Role.BIAS, (2 * 2880,)),
        "down_proj": (Role.EXPERT_DOWN, (2880, 2880)),
        "down_proj_bias": (Role.BIAS, (2880,)),
    }
    for t in by_name.values():
        assert t.count == 128 * 36 and t.active_fraction == (4, 128) and t.layers == tuple(range(36))
    router = {t.name: t for t in spec.tensors if ".router." in t.name}
    assert router["model.layers.*.mlp.router.weight"].role is Role.ROUTER
    assert router["model.layers.*.mlp.router.bias"].shape == (128,)


def test_attention_has_biases_and_per_head_sinks():
    spec = model_from_config(catalog_config("openai/gpt-oss-20b"))
    by_name = {t.name: t for t in spec.tensors}
    sinks = by_name["model.layers.*.self_attn.sinks"]
    assert sinks.role is Role.ATTN_SINKS and sinks.shape == (64,) and sinks.count == 24
    assert by_name["model.layers.*.self_attn.q_proj.weight"].shape == (64 * 64, 2880)
    assert by_name["model.layers.*.self_attn.k_proj.bias"].shape == (8 * 64,)
    assert by_name["model.layers.*.self_attn.o_proj.bias"].shape == (2880,)


def test_alternating_sliding_window_layers():
    spec = model_from_config(catalog_config("openai/gpt-oss-120b"))
    kinds = [layer.attention for layer in spec.layers]
    assert kinds == [AttentionKind.SLIDING, AttentionKind.FULL] * 18
    assert {layer.window for layer in spec.layers[::2]} == {128}
    assert {layer.window for layer in spec.layers[1::2]} == {None}
    assert {layer.kv_elements_per_token for layer in spec.layers} == {8 * (64 + 64)}
    assert all(layer.moe for layer in spec.layers)


def test_default_pattern_and_null_window():
    spec = model_from_config(BASE)
    assert [layer.attention for layer in spec.layers] == [AttentionKind.SLIDING, AttentionKind.FULL] * 2
    no_window = model_from_config(BASE | {"sliding_window": None})
    assert {layer.attention for layer in no_window.layers} == {AttentionKind.FULL}
    default_window = model_from_config({k: v for k, v in BASE.items() if k != "sliding_window"})
    assert default_window.layers[0].window == 128  # transformers' default


def test_active_parameters_use_top_k_of_experts():
    spec = model_from_config(catalog_config("openai/gpt-oss-120b"))
    per_expert = sum(t.parameters for t in spec.tensors if t.active_fraction != (1, 1))
    assert per_expert == sum(t.parameters for t in spec.tensors if ".experts." in t.name)
    assert spec.total_parameters - spec.active_parameters == per_expert * (128 - 4) // 128
    # The model card's 5.13B active leaves out the 0.58B input embedding (a lookup).
    assert round((spec.active_parameters - 201088 * 2880) / 1e9, 2) == 5.13
    assert {t.role for t in spec.tensors if t.active_fraction != (1, 1)} - {Role.BIAS} <= ROUTED_EXPERT_ROLES


def test_mxfp4_checkpoint_is_noted():
    assert any("MXFP4" in n for n in model_from_config(catalog_config("openai/gpt-oss-20b")).notes)
    assert not any("MXFP4" in n for n in model_from_config(BASE).notes)


def test_openai_field_names_are_accepted():
    openai_style = {k: v for k, v in BASE.items() if k not in ("num_local_experts", "num_experts_per_tok")}
    spec = model_from_config(openai_style | {"num_experts": 6, "experts_per_token": 2})
    assert spec.total_parameters == model_from_config(BASE).total_parameters
    assert spec.n_experts == 6 and spec.n_experts_per_token == 2


@pytest.mark.parametrize(
    ("change", "error", "field"),
    [
        ({"num_experts_per_tok": 7}, InvalidFieldError, "num_experts_per_tok"),
        ({"num_local_experts": None}, MissingFieldError, "num_local_experts"),
        ({"num_key_value_heads": 3}, InvalidFieldError, "num_key_value_heads"),
        ({"layer_types": ["sliding_attention"] * 3}, InvalidFieldError, "layer_types"),
        ({"layer_types": ["sliding_attention"] * 3 + ["moe"]}, InvalidFieldError, "layer_types[3]"),
        ({"sliding_window": "128"}, InvalidFieldError, "sliding_window"),
        ({"head_dim": 0}, InvalidFieldError, "head_dim"),
    ],
)
def test_bad_values_raise_planner_errors(change, error, field):
    with pytest.raises(error) as info:
        model_from_config(BASE | change)
    assert info.value.field == field


def test_tensor_names_use_checkpoint_layout():
    spec = model_from_config(BASE)
    for t in spec.tensors:
        assert re.fullmatch(r"(model|lm_head)[\w.*]*", t.name), t.name
        assert t.name.count("*") == (1 if t.layers else 0)
