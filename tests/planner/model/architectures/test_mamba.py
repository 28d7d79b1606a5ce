"""Mamba-1 (``mamba``), checked tensor by tensor and cache by cache against transformers."""

import math

import pytest

from planner.errors import InvalidFieldError
from planner.model import AttentionKind, Role, model_from_config
from tests.planner.model.architectures._compare import shapes_by_name, transformers_state_elements
from verify.meta_count import transformers_parameters

BASE = {"model_type": "mamba", "hidden_size": 64, "state_size": 8, "num_hidden_layers": 3, "vocab_size": 300}

CASES = {
    "default": {},  # tied head, time_step_rank "auto", intermediate = 2 x hidden
    "explicit": {
        "intermediate_size": 96,
        "time_step_rank": 7,
        "use_bias": True,
        "use_conv_bias": False,
        "tie_word_embeddings": False,
        "conv_kernel": 3,
    },
    "expand": {"expand": 3, "time_step_rank": "auto"},
}

#: state-spaces/mamba-2.8b-hf (config.json: hidden 2560, intermediate 5120, 64 layers, dt rank 160).
MAMBA_2_8B = {
    "model_type": "mamba",
    "hidden_size": 2560,
    "intermediate_size": 5120,
    "num_hidden_layers": 64,
    "state_size": 16,
    "conv_kernel": 4,
    "expand": 2,
    "time_step_rank": 160,
    "vocab_size": 50280,
    "use_bias": False,
    "use_conv_bias": True,
}


@pytest.mark.parametrize("case", CASES)
def test_every_tensor_matches_transformers(case):
    config = BASE | CASES[case]
    assert shapes_by_name(model_from_config(config).tensors) == transformers_parameters(config)


def test_mamba_2_8b_matches_transformers():
    spec = model_from_config(MAMBA_2_8B)
    assert shapes_by_name(spec.tensors) == transformers_parameters(MAMBA_2_8B)
    assert spec.tied_embeddings  # MambaConfig ties by default
    # conv window (transformers keeps conv_kernel columns) + SSM state [intermediate, state_size]
    assert {layer.state_elements for layer in spec.layers} == {5120 * 4 + 5120 * 16}


@pytest.mark.parametrize("case", ["default", "explicit"])
def test_state_elements_equal_transformers_cache(case):
    config = BASE | CASES[case]
    spec = model_from_config(config)
    assert [layer.state_elements for layer in spec.layers] == transformers_state_elements(config)
    assert all(layer.attention is AttentionKind.LINEAR for layer in spec.layers)


def test_time_step_rank_auto_is_ceil_hidden_over_16():
    spec = model_from_config(BASE | {"hidden_size": 72, "time_step_rank": "auto"})
    dt_proj = next(t for t in spec.tensors if t.name.endswith("dt_proj.weight"))
    assert dt_proj.shape == (144, math.ceil(72 / 16))


def test_roles():
    by_name = {t.name: t for t in model_from_config(BASE).tensors}
    mixer = "backbone.layers.*.mixer"
    for name in ("in_proj", "x_proj", "dt_proj"):
        assert by_name[f"{mixer}.{name}.weight"].role is Role.SSM_IN
    assert by_name[f"{mixer}.dt_proj.bias"].role is Role.BIAS
    assert by_name[f"{mixer}.conv1d.weight"].role is Role.SSM_CONV
    assert by_name[f"{mixer}.A_log"].role is Role.SSM_PARAM
    assert by_name[f"{mixer}.A_log"].shape == (128, 8)
    assert by_name[f"{mixer}.out_proj.weight"].role is Role.SSM_OUT
    assert "lm_head.weight" not in by_name


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"time_step_rank": "fast"}, "time_step_rank"),
        ({"time_step_rank": 0}, "time_step_rank"),
        ({"expand": 0}, "expand"),
        ({"intermediate_size": -4}, "intermediate_size"),
        ({"conv_kernel": 2.5}, "conv_kernel"),
    ],
)
def test_bad_values_raise_planner_errors(change, field):
    with pytest.raises(InvalidFieldError) as err:
        model_from_config(BASE | change)
    assert err.value.field == field
