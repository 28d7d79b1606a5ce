"""transformers configs from catalog configs, and tiny look-alikes that keep each architecture's features."""

import pytest

from planner.catalog import load_catalog
from planner.model import AttentionKind, model_from_config
from verify.hf import auto_class, clean_config, hf_config, tiny_config

pytest.importorskip("transformers")


def config(model_id):
    return load_catalog()[model_id].config


def test_clean_config_drops_token_ids_and_remote_code():
    raw = config("deepseek-ai/DeepSeek-V2-Lite")
    assert "auto_map" in raw
    cleaned = clean_config(raw)
    assert "auto_map" not in cleaned and cleaned["bos_token_id"] is None
    assert "auto_map" in raw  # the catalog's copy is untouched


def test_image_text_wrappers_load_through_their_class():
    assert auto_class("gemma3").__name__ == "AutoModelForImageTextToText"
    assert auto_class("llama").__name__ == "AutoModelForCausalLM"
    assert hf_config(config("google/gemma-3-4b-it")).model_type == "gemma3"


@pytest.mark.parametrize(
    ("model_id", "kinds"),
    [
        ("google/gemma-3-12b-it", {AttentionKind.SLIDING, AttentionKind.FULL}),
        ("openai/gpt-oss-20b", {AttentionKind.SLIDING, AttentionKind.FULL}),
        ("meta-llama/Llama-3.1-8B-Instruct", {AttentionKind.FULL}),
        ("deepseek-ai/DeepSeek-V3", {AttentionKind.MLA}),
    ],
)
def test_tiny_keeps_the_layer_kinds(model_id, kinds):
    tiny = model_from_config(tiny_config(config(model_id)))
    assert {layer.attention for layer in tiny.layers} == kinds
    assert tiny.total_parameters < 5_000_000


def test_tiny_keeps_experts_gqa_and_the_vision_tower():
    moe = model_from_config(tiny_config(config("Qwen/Qwen3-30B-A3B")))
    assert moe.n_experts == 4 and moe.n_experts_per_token == 2
    llama = tiny_config(config("meta-llama/Llama-3.1-8B-Instruct"))
    assert llama["num_key_value_heads"] < llama["num_attention_heads"]
    gemma = tiny_config(config("google/gemma-3-4b-it"))
    assert gemma["vision_config"]["num_hidden_layers"] == 2 and gemma["mm_tokens_per_image"] == 4
    dense_dsv3 = tiny_config(config("deepseek-ai/DeepSeek-V3"))
    assert dense_dsv3["first_k_dense_replace"] == 1 and dense_dsv3["num_hidden_layers"] == 2
