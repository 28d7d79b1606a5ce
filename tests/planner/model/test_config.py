"""Reading config.json safely: limits, types, aliases, and field-naming errors."""

import json

import pytest

from planner.errors import ConfigError, InvalidFieldError, MissingFieldError
from planner.model.config import MAX_CONFIG_BYTES, MAX_DEPTH, ConfigView, parse_config_bytes


def test_parses_utf8_with_bom():
    assert parse_config_bytes(b'\xef\xbb\xbf{"model_type": "llama"}') == {"model_type": "llama"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2, 3]", "JSON object"),
        (b"", "not valid JSON"),
    ],
)
def test_rejects_bad_bytes(data, message):
    with pytest.raises(ConfigError, match=message):
        parse_config_bytes(data)


def test_non_finite_numbers_parse_but_are_refused_where_read():
    raw = parse_config_bytes(
        b'{"time_step_limit": [0.0, Infinity], "hidden_size": NaN, "rms_norm_eps": Infinity}'
    )
    view = ConfigView(raw, "mamba2")
    assert view.list("time_step_limit") == [0.0, float("inf")]
    with pytest.raises(InvalidFieldError, match="hidden_size"):
        view.int("hidden_size")
    with pytest.raises(InvalidFieldError, match="finite"):
        view.float("rms_norm_eps")


def test_rejects_oversized_file():
    data = b'{"pad": "' + b"x" * MAX_CONFIG_BYTES + b'"}'
    with pytest.raises(ConfigError, match="limit"):
        parse_config_bytes(data)


def test_rejects_deep_nesting_without_recursing():
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(ConfigError, match=f"deeper than {MAX_DEPTH}"):
        parse_config_bytes(('{"a": ' + deep + "}").encode())


def test_brackets_inside_strings_do_not_count_as_nesting():
    text = json.dumps({"note": "[" * 50 + "{" * 50})
    assert parse_config_bytes(text.encode())["note"].startswith("[[[")


def test_missing_field_names_the_field_and_architecture():
    view = ConfigView({}, "llama")
    with pytest.raises(MissingFieldError, match=r"'hidden_size'.*llama") as info:
        view.int("hidden_size")
    assert info.value.field == "hidden_size"


@pytest.mark.parametrize(
    ("value", "reason"),
    [(True, "integer"), ("4096", "integer"), (4096.5, "integer"), (-1, "at least 1"), (10**9, "at most")],
)
def test_int_field_type_and_range(value, reason):
    view = ConfigView({"hidden_size": value}, "llama")
    with pytest.raises(InvalidFieldError, match=reason) as info:
        view.int("hidden_size")
    assert info.value.field == "hidden_size"


def test_integral_float_is_accepted():
    assert ConfigView({"hidden_size": 4096.0}, "x").int("hidden_size") == 4096


def test_legacy_aliases_resolve_and_errors_name_the_alias_used():
    view = ConfigView({"n_layer": 24, "n_embd": 2048, "n_head": "16"}, "gpt_bigcode")
    assert view.int("num_hidden_layers") == 24
    assert view.int("hidden_size") == 2048
    with pytest.raises(InvalidFieldError, match="'n_head'"):
        view.int("num_attention_heads")


def test_null_counts_as_absent():
    view = ConfigView({"head_dim": None}, "qwen3")
    assert view.opt_int("head_dim") is None
    assert view.int("head_dim", 64) == 64


def test_nested_view_prefixes_field_names():
    view = ConfigView({"text_config": {"model_type": "gemma3_text"}}, "gemma3").sub("text_config")
    assert view.architecture == "gemma3_text"
    with pytest.raises(MissingFieldError, match=r"'text_config\.hidden_size'"):
        view.int("hidden_size")


def test_lists_are_checked_per_element():
    view = ConfigView({"layer_types": ["full_attention", 3]}, "x")
    with pytest.raises(InvalidFieldError, match=r"layer_types\[1\]"):
        view.str_list("layer_types")
    with pytest.raises(InvalidFieldError, match="expected 3"):
        view.str_list("layer_types", 3)
