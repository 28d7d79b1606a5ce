"""GPTBigCode (StarCoder, SantaCoder): multi-query attention and learned positions, checked against transformers."""

import pytest

from planner.errors import InvalidFieldError
from planner.model import AttentionKind, Role, model_from_config
from tests.planner.model.architectures._compare import catalog_config, shapes_by_name
from verify.meta_count import transformers_parameter_count, transformers_parameters

BASE = {
    "model_type": "gpt_bigcode",
    "n_embd": 64,
    "n_layer": 3,
    "n_head": 8,
    "n_positions": 128,
    "vocab_size": 300,
}

CASES = {
    "multi-query": {},
    "multi-head": {"multi_query": False},
    "n_inner": {"n_inner": 96},
    "n_inner-null": {"n_inner": None},
    "untied": {"tie_word_embeddings": False},
    "cross-attention": {"multi_query": False, "add_cross_attention": True},
}

#: bigcode/starcoderbase-1b's config.json (architecture fields).
STARCODERBASE_1B = {
    "model_type": "gpt_bigcode", "activation_function": "gelu_pytorch_tanh", "multi_query": True, "n_embd": 2048,
    "n_head": 16, "n_inner": 8192, "n_layer": 24, "n_positions": 8192, "vocab_size": 49152,
    "layer_norm_epsilon": 1e-05, "scale_attn_weights": True,
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_tensors_match_transformers_one_to_one(case):
    config = BASE | CASES[case]
    assert shapes_by_name(model_from_config(config).tensors) == transformers_parameters(config)


@pytest.mark.parametrize(
    "config", [catalog_config("bigcode/starcoder"), STARCODERBASE_1B], ids=["15.5b", "1b"]
)
def test_published_configs_match_transformers(config):
    spec = model_from_config(config)
    assert spec.total_parameters == transformers_parameter_count(config)


def test_starcoder_count_and_cache_geometry():
    spec = model_from_config(catalog_config("bigcode/starcoder"))
    assert spec.total_parameters == 15_517_456_384  # "15.5B" on the model card
    assert {(layer.attention, layer.kv_heads, layer.k_head_dim) for layer in spec.layers} == {
        (AttentionKind.FULL, 1, 128)
    }
    assert spec.layers[0].kv_elements_per_token == 256
    assert spec.max_position_embeddings == 8192


def test_fused_multi_query_projection():
    spec = model_from_config(catalog_config("bigcode/starcoder"))
    by_name = {t.name: t for t in spec.tensors}
    c_attn = by_name["transformer.h.*.attn.c_attn.weight"]
    assert c_attn.role is Role.ATTN_QKV and c_attn.shape == (6144 + 2 * 128, 6144)
    assert by_name["transformer.h.*.attn.c_attn.bias"].shape == (6144 + 2 * 128,)
    assert by_name["transformer.h.*.mlp.c_fc.weight"].shape == (24576, 6144)
    assert by_name["transformer.h.*.mlp.c_proj.bias"].shape == (6144,)
    assert {"transformer.h.*.ln_1.bias", "transformer.h.*.ln_2.weight", "transformer.ln_f.bias"} <= set(
        by_name
    )


def test_learned_positions_and_tied_head():
    spec = model_from_config(catalog_config("bigcode/starcoder"))
    (wpe,) = [t for t in spec.tensors if t.role is Role.POSITION_EMBEDDING]
    assert wpe.name == "transformer.wpe.weight" and wpe.shape == (8192, 6144)
    assert spec.tied_embeddings and not any(t.role is Role.LM_HEAD for t in spec.tensors)
    assert [t.name for t in spec.tensors if t.role is Role.EMBEDDING] == ["transformer.wte.weight"]
    assert any("64 MiB" in n for n in spec.notes)


def test_multi_head_variant_caches_every_head():
    spec = model_from_config(BASE | CASES["multi-head"])
    assert {layer.kv_heads for layer in spec.layers} == {8}


def test_missing_positions_use_transformers_default():
    config = {k: v for k, v in BASE.items() if k != "n_positions"}
    spec = model_from_config(config)
    assert spec.total_parameters == transformers_parameter_count(config)
    assert any("1024" in n for n in spec.notes)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"n_head": 7}, "n_head"),
        ({"add_cross_attention": True}, "add_cross_attention"),
        ({"n_embd": 64.5}, "n_embd"),
        ({"n_inner": 0}, "n_inner"),
        ({"multi_query": 1}, "multi_query"),
    ],
)
def test_bad_values_raise_planner_errors(change, field):
    with pytest.raises(InvalidFieldError) as info:
        model_from_config(BASE | change)
    assert info.value.field == field
