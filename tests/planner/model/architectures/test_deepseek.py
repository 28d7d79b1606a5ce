"""DeepSeek-V2/V3 (MLA + DeepSeekMoE), checked against transformers' own modeling code."""

import math

import pytest

from planner.catalog import get_entry
from planner.errors import InvalidFieldError
from planner.model import AttentionKind, Role, model_from_config
from planner.model.spec import ROUTED_EXPERT_ROLES
from tests.planner.model.architectures._compare import (
    assert_layer_kinds_match,
    assert_matches_transformers,
    catalog_config,
    parameters_by_name,
    reference_parameters,
    transformers_default,
)
from verify.meta_count import transformers_parameters

BASE = {
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "vocab_size": 300,
    "kv_lora_rank": 16,
    "q_lora_rank": 24,
    "qk_nope_head_dim": 8,
    "qk_rope_head_dim": 4,
    "v_head_dim": 12,
    "n_routed_experts": 6,
    "num_experts_per_tok": 2,
    "moe_intermediate_size": 20,
    "first_k_dense_replace": 1,
    "n_shared_experts": 2,
}

CASES = {
    "v2": {"model_type": "deepseek_v2"},
    "v2-lite": {"model_type": "deepseek_v2", "q_lora_rank": None},
    "v2-biases": {"model_type": "deepseek_v2", "attention_bias": True, "mlp_bias": True},
    "v2-all-moe": {"model_type": "deepseek_v2", "first_k_dense_replace": 0, "n_shared_experts": 1},
    "v3": {"model_type": "deepseek_v3", "first_k_dense_replace": 2, "n_shared_experts": 1},
    "v3-no-q-lora": {"model_type": "deepseek_v3", "q_lora_rank": None, "tie_word_embeddings": True},
    "v3-mtp": {"model_type": "deepseek_v3", "num_nextn_predict_layers": 1},
}


#: Per-expert planner names -> the fused 3-D tensors transformers holds (their parameters are summed).
FUSED_EXPERTS = {
    "experts.*.gate_proj.weight": "experts.gate_up_proj",
    "experts.*.up_proj.weight": "experts.gate_up_proj",
    "experts.*.down_proj.weight": "experts.down_proj",
}


@pytest.mark.parametrize("case", CASES)
def test_tensors_match_transformers(case):
    """Every tensor, layer by layer (routed experts grouped as transformers fuses them)."""
    config = BASE | CASES[case]
    reference = transformers_parameters(config)
    spec = model_from_config(config)
    assert parameters_by_name(spec, FUSED_EXPERTS) == reference_parameters(reference, skip_empty=True)
    assert spec.total_parameters == sum(reference_parameters(reference, skip_empty=True).values())


@pytest.mark.parametrize(
    "model_id",
    [
        "deepseek-ai/DeepSeek-V2-Lite",
        "deepseek-ai/DeepSeek-V2",
        "deepseek-ai/DeepSeek-V3",
        "deepseek-ai/DeepSeek-R1",
    ],
)
def test_published_configs_match_transformers(model_id):
    config = catalog_config(model_id)
    reference = transformers_parameters(config)
    spec = model_from_config(config)
    assert parameters_by_name(spec, FUSED_EXPERTS) == reference_parameters(reference, skip_empty=True)


def test_v3_router_correction_bias_is_a_loaded_buffer():
    """transformers holds e_score_correction_bias as a persistent buffer: stored and loaded with the weights."""
    config = catalog_config("deepseek-ai/DeepSeek-V3")
    buffers = {k: v for k, v in transformers_parameters(config).items() if "e_score" in k}
    assert len(buffers) == 58 and set(buffers.values()) == {(256,)}
    spec = model_from_config(config)
    (group,) = [t for t in spec.tensors if t.name.endswith("e_score_correction_bias")]
    assert group.role is Role.BIAS and group.layers == tuple(range(3, 61))


def test_v3_hub_total_reconciles_with_mtp_and_fp8_scales():
    """The Hub's 684,531,386,000 (F32 part 41,555,600) is the planner's main model + the MTP layer
    (one more MoE layer, enorm, hnorm, eh_proj) + its embedding/head copies + FP8 128x128 block scales."""
    spec = model_from_config(catalog_config("deepseek-ai/DeepSeek-V3"))
    hidden, vocab = 7168, 129280
    fp8 = ROUTED_EXPERT_ROLES | {
        Role.ATTN_Q_A, Role.ATTN_Q_B, Role.ATTN_KV_A, Role.ATTN_KV_B, Role.ATTN_OUT,
        Role.MLP_GATE, Role.MLP_UP, Role.MLP_DOWN,
        Role.SHARED_EXPERT_GATE, Role.SHARED_EXPERT_UP, Role.SHARED_EXPERT_DOWN,
    }  # fmt: skip

    def scales(t, copies):
        return copies * math.ceil(t.shape[0] / 128) * math.ceil(t.shape[1] / 128) if t.role in fp8 else 0

    last_moe = [(t, t.count // len(t.layers)) for t in spec.tensors if 60 in t.layers]
    mtp = sum(t.numel * c for t, c in last_moe) + 2 * hidden * hidden + 3 * hidden
    block_scales = sum(scales(t, t.count) for t in spec.tensors) + sum(scales(t, c) for t, c in last_moe)
    router_bias = 59 * 256
    assert spec.total_parameters + mtp + 2 * vocab * hidden + block_scales == 684_531_386_000
    assert block_scales + router_bias == 41_555_600
    assert any("11.6B" in n and "model.layers.61" in n for n in spec.notes)


def test_mla_layers_cache_the_latent():
    spec = model_from_config(catalog_config("deepseek-ai/DeepSeek-V3"))
    assert {layer.attention for layer in spec.layers} == {AttentionKind.MLA}
    assert {layer.kv_elements_per_token for layer in spec.layers} == {512 + 64}
    assert [layer.moe for layer in spec.layers] == [False] * 3 + [True] * 58
    assert spec.n_experts == 256 and spec.n_experts_per_token == 8


def test_first_k_dense_replace_and_shared_experts():
    spec = model_from_config(catalog_config("deepseek-ai/DeepSeek-V2-Lite"))
    by_name = {t.name: t for t in spec.tensors}
    dense = by_name["model.layers.*.mlp.gate_proj.weight"]
    assert dense.layers == (0,) and dense.shape == (10944, 2048)
    shared = by_name["model.layers.*.mlp.shared_experts.gate_proj.weight"]
    assert shared.role is Role.SHARED_EXPERT_GATE and shared.shape == (2 * 1408, 2048)
    assert shared.layers == tuple(range(1, 27))
    experts = by_name["model.layers.*.mlp.experts.*.up_proj.weight"]
    assert experts.count == 64 * 26 and experts.active_fraction == (6, 64)


def test_v2_lite_has_a_plain_query_projection():
    spec = model_from_config(catalog_config("deepseek-ai/DeepSeek-V2-Lite"))
    names = {t.name for t in spec.tensors}
    assert "model.layers.*.self_attn.q_proj.weight" in names
    assert not any("q_a_proj" in n or "q_b_proj" in n or "q_a_layernorm" in n for n in names)
    kv_a = next(t for t in spec.tensors if t.name == "model.layers.*.self_attn.kv_a_proj_with_mqa.weight")
    assert kv_a.role is Role.ATTN_KV_A and kv_a.shape == (512 + 64, 2048)


def test_v3_attention_roles():
    spec = model_from_config(catalog_config("deepseek-ai/DeepSeek-V3"))
    roles = {
        t.name.removeprefix("model.layers.*.self_attn."): t.role
        for t in spec.tensors
        if "self_attn" in t.name
    }
    assert roles == {
        "q_a_proj.weight": Role.ATTN_Q_A, "q_a_layernorm.weight": Role.NORM, "q_b_proj.weight": Role.ATTN_Q_B,
        "kv_a_proj_with_mqa.weight": Role.ATTN_KV_A, "kv_a_layernorm.weight": Role.NORM,
        "kv_b_proj.weight": Role.ATTN_KV_B, "o_proj.weight": Role.ATTN_OUT,
    }  # fmt: skip


def test_active_parameters_count_top_k_routed_experts():
    spec = model_from_config(catalog_config("deepseek-ai/DeepSeek-V3"))
    routed = sum(t.parameters for t in spec.tensors if t.role in ROUTED_EXPERT_ROLES)
    assert spec.total_parameters - spec.active_parameters == routed * (256 - 8) // 256
    embedding = 129280 * 7168
    # DeepSeek's README_WEIGHTS: 36.6B activated, the output head included, the input lookup not.
    assert round((spec.active_parameters - embedding) / 1e9, 1) == 36.6


def test_moe_layer_freq_follows_deepseek_rule():
    """Layer i routes when i >= first_k_dense_replace and i % moe_layer_freq == 0 (DeepSeek's code)."""
    spec = model_from_config(
        BASE | {"model_type": "deepseek_v2", "num_hidden_layers": 6, "moe_layer_freq": 2}
    )
    assert [layer.moe for layer in spec.layers] == [False, False, True, False, True, False]
    assert any("moe_layer_freq" in n for n in spec.notes)


def test_null_routed_experts_means_a_dense_model():
    spec = model_from_config(BASE | {"model_type": "deepseek_v2", "n_routed_experts": None})
    assert not spec.is_moe and not any(layer.moe for layer in spec.layers)
    assert not any(t.role in ROUTED_EXPERT_ROLES or t.role is Role.ROUTER for t in spec.tensors)


def test_mtp_layers_are_noted_not_counted():
    with_mtp = model_from_config(BASE | CASES["v3"] | {"num_nextn_predict_layers": 2})
    without = model_from_config(BASE | CASES["v3"])
    assert any("2 multi-token-prediction" in n for n in with_mtp.notes)
    assert not any("multi-token-prediction" in n for n in without.notes)
    assert with_mtp.num_layers == 4 and with_mtp.tensors == without.tensors


@pytest.mark.parametrize(
    ("change", "error", "field"),
    [
        ({"num_experts_per_tok": 7}, InvalidFieldError, "num_experts_per_tok"),
        ({"kv_lora_rank": "512"}, InvalidFieldError, "kv_lora_rank"),
        ({"q_lora_rank": 0}, InvalidFieldError, "q_lora_rank"),
        ({"hidden_size": True}, InvalidFieldError, "hidden_size"),
        ({"first_k_dense_replace": -1}, InvalidFieldError, "first_k_dense_replace"),
        ({"moe_layer_freq": 0}, InvalidFieldError, "moe_layer_freq"),
        ({"qk_rope_head_dim": None, "kv_lora_rank": 2**40}, InvalidFieldError, "kv_lora_rank"),
    ],
)
def test_bad_values_raise_planner_errors(change, error, field):
    config = BASE | {"model_type": "deepseek_v3"} | change
    with pytest.raises(error) as info:
        model_from_config(config)
    assert info.value.field == field


# --- 2025-26 MLA families: DeepSeek-V3.2 (DSA), GLM-5 (DSA, shared indexers), Mistral 4, Kimi K2 ---

NEW_CASES = {
    ("deepseek_v32", "default"): {"num_hidden_layers": 5},
    ("deepseek_v32", "explicit mlp layer types, biases"): {
        "num_hidden_layers": 3,
        "mlp_layer_types": ["sparse", "dense", "sparse"],
        "attention_bias": True,
    },
    ("glm_moe_dsa", "default (GLM-5 geometry)"): {"num_hidden_layers": 5},
    ("glm_moe_dsa", "shared indexers"): {
        "num_hidden_layers": 6,
        "indexer_types": ["full", "full", "shared", "full", "shared", "shared"],
        "first_k_dense_replace": 2,
    },
    ("mistral4", "default (Mistral Small 4 geometry)"): {"num_hidden_layers": 3},
    ("mistral4", "plain q_proj, one dense layer"): {
        "num_hidden_layers": 3,
        "q_lora_rank": None,
        "first_k_dense_replace": 1,
    },
    ("deepseek_v2", "default: num_experts_per_tok null"): {"num_hidden_layers": 3},
}


@pytest.mark.parametrize(("model_type", "case"), NEW_CASES)
def test_new_mla_families_match_transformers(model_type, case):
    config = transformers_default(model_type, **NEW_CASES[model_type, case])
    assert_matches_transformers(config)
    assert_layer_kinds_match(config)


def test_dsa_layers_cache_the_latent_and_one_indexer_key_per_token():
    spec = model_from_config(transformers_default("deepseek_v32", num_hidden_layers=2))
    assert {layer.kv_elements_per_token for layer in spec.layers} == {512 + 64 + 128}
    glm = model_from_config(
        transformers_default("glm_moe_dsa", num_hidden_layers=3, indexer_types=["full", "shared", "full"])
    )
    assert [layer.indexer_dim for layer in glm.layers] == [128, 0, 128]


def test_null_experts_per_token_counts_every_expert_as_active():
    spec = model_from_config(transformers_default("deepseek_v2", num_hidden_layers=2))
    assert spec.n_experts_per_token == spec.n_experts == 64
    assert any("num_experts_per_tok is null" in note for note in spec.notes)


@pytest.mark.parametrize(
    "model_id", ["moonshotai/Kimi-K2-Instruct", "zai-org/GLM-5", "deepseek-ai/DeepSeek-V3.2"]
)
def test_2025_published_configs_match_transformers(model_id):
    assert_matches_transformers(get_entry(model_id).config)


def test_glm_5_mtp_layer_has_no_embedding_copies():
    spec = get_entry("zai-org/GLM-5").spec()
    # Hub total 753,864,139,008 = model + MTP layer 9,952,920,576 (decoder layer, eh_proj, norms only)
    assert spec.total_parameters == 753_864_139_008 - 9_952_920_576
    assert not any("copies" in note for note in spec.notes)
