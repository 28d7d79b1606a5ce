"""Mamba-2 (``mamba2``), checked tensor by tensor and cache by cache against transformers."""

import pytest

from planner.errors import InvalidFieldError, MissingFieldError
from planner.model import AttentionKind, Role, model_from_config
from tests.planner.model.architectures._compare import (
    catalog_entry,
    shapes_by_name,
    transformers_state_elements,
)
from verify.meta_count import transformers_parameter_count, transformers_parameters

BASE = {
    "model_type": "mamba2",
    "hidden_size": 64,
    "num_heads": 8,
    "head_dim": 16,
    "n_groups": 2,
    "state_size": 16,
    "num_hidden_layers": 3,
    "vocab_size": 300,
}

CASES = {
    "default": {},
    "bias-tied": {"use_bias": True, "tie_word_embeddings": True, "n_groups": 1},
    "no-conv-bias": {"use_conv_bias": False, "conv_kernel": 3, "expand": 4, "num_heads": 16},
}


@pytest.mark.parametrize("case", CASES)
def test_every_tensor_matches_transformers(case):
    config = BASE | CASES[case]
    spec = model_from_config(config)
    assert shapes_by_name(spec.tensors) == transformers_parameters(config)
    assert spec.family == "mamba2" and not spec.approximate


def test_codestral_matches_transformers_and_its_model_card():
    entry = catalog_entry("mistralai/Mamba-Codestral-7B-v0.1")
    spec = model_from_config(entry["config"])
    assert spec.total_parameters == transformers_parameter_count(entry["config"])
    assert spec.total_parameters == entry["reference"]["total"] == 7_285_403_648
    assert spec.active_parameters == spec.total_parameters
    assert not spec.tied_embeddings and spec.num_layers == 64


def test_codestral_state_per_layer():
    spec = model_from_config(catalog_entry("mistralai/Mamba-Codestral-7B-v0.1")["config"])
    conv_dim = 2 * 4096 + 2 * 8 * 128  # x plus grouped B and C
    expected = conv_dim * 4 + 128 * 64 * 128  # conv window (transformers keeps conv_kernel) + SSM state
    assert {layer.state_elements for layer in spec.layers} == {expected}
    assert all(layer.attention is AttentionKind.LINEAR for layer in spec.layers)
    assert all(layer.kv_elements_per_token == 0 for layer in spec.layers)


@pytest.mark.parametrize("case", ["default", "no-conv-bias"])
def test_state_elements_equal_transformers_cache(case):
    config = BASE | CASES[case]
    spec = model_from_config(config)
    assert [layer.state_elements for layer in spec.layers] == transformers_state_elements(config)


def test_roles():
    by_name = {t.name: t for t in model_from_config(BASE).tensors}
    mixer = "backbone.layers.*.mixer"
    assert by_name[f"{mixer}.in_proj.weight"].role is Role.SSM_IN
    assert by_name[f"{mixer}.out_proj.weight"].role is Role.SSM_OUT
    assert by_name[f"{mixer}.conv1d.weight"].role is Role.SSM_CONV
    assert by_name[f"{mixer}.conv1d.weight"].shape == (64 * 2 + 2 * 2 * 16, 1, 4)
    assert by_name[f"{mixer}.conv1d.bias"].role is Role.BIAS
    assert by_name[f"{mixer}.norm.weight"].role is Role.NORM
    for name in ("dt_bias", "A_log", "D"):
        assert by_name[f"{mixer}.{name}"].role is Role.SSM_PARAM
        assert by_name[f"{mixer}.{name}"].shape == (8,)
    assert by_name["backbone.embeddings.weight"].role is Role.EMBEDDING
    assert by_name["lm_head.weight"].role is Role.LM_HEAD


def test_float_expand_with_a_whole_width_is_accepted():
    """Configs saved by older transformers carry expand 1.5; they built int(1.5 * hidden)."""
    spec = model_from_config(BASE | {"expand": 1.5, "num_heads": 6})
    in_proj = next(t for t in spec.tensors if t.name.endswith("in_proj.weight"))
    width = 96
    assert in_proj.shape == (width + (width + 2 * 2 * 16) + 6, 64)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"head_dim": 32}, "head_dim"),  # 8 x 32 != 2 x 64
        ({"n_groups": 3}, "n_groups"),
        ({"expand": 1.3}, "expand"),
        ({"expand": 0}, "expand"),
        ({"num_heads": 0}, "num_heads"),
        ({"state_size": "big"}, "state_size"),
        ({"use_bias": "yes"}, "use_bias"),
    ],
)
def test_bad_values_raise_planner_errors(change, field):
    with pytest.raises(InvalidFieldError) as err:
        model_from_config(BASE | change)
    assert err.value.field == field


@pytest.mark.parametrize("key", ["hidden_size", "vocab_size", "num_hidden_layers"])
def test_missing_fields_are_named(key):
    with pytest.raises(MissingFieldError) as err:
        model_from_config({k: v for k, v in BASE.items() if k != key})
    assert err.value.field == key


def test_state_does_not_depend_on_context_length():
    short, long = (model_from_config(BASE | {"max_position_embeddings": n}) for n in (1024, 1 << 20))
    assert [layer.state_elements for layer in short.layers] == [layer.state_elements for layer in long.layers]
