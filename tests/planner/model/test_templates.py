"""Tensor templates in the pure core: config resolution as transformers does it, and the spec they give.

The resolution rules below are the ones transformers' config classes follow (checked against
transformers itself by the zoo test); here each rule is exercised on its own.
"""

import pytest

from planner.errors import ConfigError, InvalidFieldError, MissingFieldError
from planner.model import Role, model_from_config, templates
from planner.model.templated import build_from_template
from planner.model.templates import Fields

TEMPLATE = {
    "model_type": "toy",
    "kind": "causal",
    "source": "transformers 0.0: test",
    "sub_configs": {},
    "text_config": "",
    "text_prefix": "",
    "text_layers": "n_layer",
    "config": {
        "fields": {
            "n_embd": {"default": 64},
            "n_layer": {"default": 2},
            "n_head": {"default": 4},
            "head_dim": {"derived": "n_embd // n_head", "null": "default"},
            "n_inner": {"default": None},
            "tie_word_embeddings": {"default": True},
            "layer_types": {
                "derived_list": {
                    "length": "n_layer",
                    "item": "'full_attention' if (i + 1) % 2 == 0 else ('sliding_attention')",
                },
                "null": "default",
            },
            "vocab_size": {"default": 100},
            "secret": {"default": 1, "required": True},
        },
        "aliases": {"": {"hidden_size": "n_embd", "num_hidden_layers": "n_layer"}},
    },
    "tensors": [
        {"name": "wte.weight", "shape": ["vocab_size", "n_embd"], "part": "text", "role": "embedding"},
        {
            "name": "lm_head.weight",
            "shape": ["vocab_size", "n_embd"],
            "when": "not tie_word_embeddings",
            "part": "text",
            "role": "lm_head",
        },
        {
            "name": "h.*.attn.q.weight",
            "shape": ["n_head * head_dim", "n_embd"],
            "repeat": [{"count": "n_layer"}],
            "part": "text",
            "role": "attn_q",
        },
        {
            "name": "h.*.mlp.fc.weight",
            "shape": ["(n_inner) if n_inner != None else (4 * n_embd)", "n_embd"],
            "repeat": [{"count": "n_layer", "where": "layer_types[i] == 'full_attention'"}],
            "part": "text",
            "role": "mlp_up",
        },
        {
            "name": "h.*.moe.experts.gate_up_proj",
            "shape": ["2 * n_embd", "n_embd"],
            "repeat": [{"count": "n_layer"}],
            "experts": {"count": "8", "top_k": None},
            "part": "text",
            "role": "expert_gate_up",
        },
    ],
}


def fields(**raw):
    return Fields(TEMPLATE, raw)


def test_given_value_alias_and_defaults():
    assert fields(n_embd=128)("n_embd") == 128
    assert fields(hidden_size=256)("n_embd") == 256  # transformers' attribute_map alias
    assert fields()("n_embd") == 64


def test_derived_default_and_null():
    assert fields(n_embd=128)("head_dim") == 32
    assert fields(n_embd=128, head_dim=None)("head_dim") == 32  # null means "derive it", as transformers does
    assert fields(n_embd=128, head_dim=48)("head_dim") == 48
    assert fields(n_layer=4)("layer_types") == ["sliding_attention", "full_attention"] * 2


def test_required_field_and_type_checks_name_the_field():
    with pytest.raises(MissingFieldError, match="secret"):
        fields()("secret")
    with pytest.raises(InvalidFieldError, match="n_embd"):
        fields(n_embd="64")("n_embd")
    with pytest.raises(InvalidFieldError, match="n_embd"):
        fields(n_embd=64.5)("n_embd")
    with pytest.raises(InvalidFieldError, match="tie_word_embeddings"):
        fields(tie_word_embeddings="yes")("tie_word_embeddings")
    assert fields(n_embd=128.0)("n_embd") == 128


def test_spec_from_template_counts_every_rule():
    spec = build_from_template(TEMPLATE, {"n_layer": 4, "n_embd": 64, "tie_word_embeddings": False}, "toy")
    shapes = {t.name: (t.shape, t.count, t.layers) for t in spec.tensors}
    assert shapes["lm_head.weight"] == ((100, 64), 1, ())
    assert shapes["h.*.attn.q.weight"] == ((64, 64), 4, (0, 1, 2, 3))
    assert shapes["h.*.mlp.fc.weight"] == ((256, 64), 2, (1, 3))  # full-attention layers only
    experts = next(t for t in spec.tensors if t.role is Role.EXPERT_GATE_UP)
    assert experts.shape == (128, 64) and experts.count == 4 * 8  # stored per expert
    assert spec.n_experts == 8 and spec.num_layers == 4
    assert [layer.window for layer in spec.layers] == [None] * 4
    assert spec.total_parameters == 100 * 64 * 2 + 4 * 64 * 64 + 2 * 256 * 64 + 32 * 128 * 64
    assert spec.family == "template" and spec.inventory_source.value == "template"
    # the toy config names no attention heads: its KV cache is unknown, and said so
    assert spec.approximate
    assert any(n.startswith("KV cache approximate: the config names no attention heads") for n in spec.notes)


def test_negative_or_absurd_sizes_are_refused_with_the_field():
    with pytest.raises(InvalidFieldError, match="n_inner"):
        build_from_template(TEMPLATE, {"n_inner": -5}, "toy")
    with pytest.raises(ConfigError):
        build_from_template(TEMPLATE, {"n_layer": 10**9}, "toy")


def test_shipped_templates_name_their_source():
    for kind, types in templates.available().items():
        for model_type in sorted(types)[:20]:
            tpl = templates.load(kind, model_type)
            assert tpl["source"].startswith("transformers ")
            assert tpl["model_type"] == model_type


def test_a_type_without_hand_written_builder_is_exact_not_approximate():
    if "gpt2" not in templates.available()["causal"]:
        pytest.skip("no gpt2 template")
    spec = model_from_config(
        {"model_type": "gpt2", "n_embd": 768, "n_layer": 12, "n_head": 12, "vocab_size": 50257}
    )
    assert spec.family == "template" and not spec.approximate
    # GPT-2 small: 124,439,808 parameters (wte+wpe, tied head; transformers' own count)
    assert spec.total_parameters == 124_439_808
