"""The template expression language: what it computes, and what it refuses to run."""

import pytest

from planner.errors import ConfigError
from planner.model.expr import ExprError, evaluate, names

FIELDS = {
    "hidden_size": 4096,
    "num_attention_heads": 32,
    "layer_types": ["sliding_attention", "full_attention"],
    "vision_config.image_size": 336,
    "vision_config.patch_size": 14,
    "head_dim": None,
    "mlp_ratio": 4.0,
}


def value(text, **extra):
    return evaluate(text, lambda name: {**FIELDS, **extra}[name])


def test_arithmetic_and_fields():
    assert value("hidden_size // num_attention_heads") == 128
    assert value("(vision_config.image_size // vision_config.patch_size) ** 2 + 1") == 577
    assert value("int(hidden_size * mlp_ratio)") == 16384
    assert value("ceil_div(hidden_size + 1, 16)") == 257
    assert value("len(layer_types)") == 2
    assert value("isqrt(num_patches)", num_patches=576) == 24  # a square patch grid's side


def test_conditions_index_and_nulls():
    assert value("layer_types[i] == 'full_attention'", i=1) is True
    assert value("(i + 1) % 2 == 0 and i not in (0,)", i=1) is True
    assert value("(head_dim * 2) if head_dim != None else (hidden_size // num_attention_heads)") == 128


def test_names_lists_the_fields_read():
    assert names("(vision_config.image_size // vision_config.patch_size) ** 2") == {
        "vision_config.image_size",
        "vision_config.patch_size",
    }
    assert names("layer_types[i] == 'x'") == {"layer_types", "i"}


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "hidden_size.__class__",
        "[x for x in layer_types]",
        "lambda: 1",
        "open('/etc/passwd')",
        "hidden_size @ hidden_size",
    ],
)
def test_anything_outside_the_whitelist_is_refused(text):
    with pytest.raises((ValueError, SyntaxError, ExprError)):
        value(text)


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("hidden_size // num_attention_heads", {"num_attention_heads": 0}),
        ("hidden_size * 2", {"hidden_size": "64"}),
        ("hidden_size * 2", {"hidden_size": [1]}),
        ("hidden_size ** 2", {"hidden_size": 2**70}),
        ("layer_types[i]", {"i": 5}),
        ("hidden_size * 2", {"hidden_size": True}),
        ("len(hidden_size)", {}),
        ("isqrt(hidden_size)", {"hidden_size": -4}),
        ("isqrt(mlp_ratio)", {}),
    ],
)
def test_bad_values_become_config_errors(text, fields):
    with pytest.raises(ConfigError):
        value(text, **fields)
