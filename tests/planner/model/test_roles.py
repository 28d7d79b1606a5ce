"""Tensor roles from names (planner.model.roles) against transformers' own tensors and llama.cpp's names.

The reference for each catalog model is transformers' modeling code on the meta device,
its parameter names turned back into the checkpoint's as ``save_pretrained`` does: the
classifier must give every role the same parameter total as the hand-written builder,
which is itself checked tensor by tensor against transformers (tests/planner/model/architectures).
"""

from __future__ import annotations

import math

import pytest

from planner.catalog import load_catalog
from planner.model.roles import classify
from planner.model.spec import Role

CATALOG = load_catalog()


def _checkpoint_tensors(config):
    """transformers' tensors of ``config`` on the meta device, under the checkpoint's names."""
    from transformers.core_model_loading import revert_weight_conversion

    from planner.model.inventory.meta import _model_class
    from verify.meta_count import meta_model, model_tensors

    model = meta_model(config, _model_class(config["model_type"]))
    return revert_weight_conversion(model, model_tensors(model))


@pytest.mark.slow
@pytest.mark.parametrize("model_id", sorted(CATALOG))
def test_roles_of_transformers_tensors_match_the_builder(model_id):
    entry = CATALOG[model_id]
    spec = entry.spec()
    totals: dict[Role, int] = {}
    for name, tensor in _checkpoint_tensors(entry.config).items():
        role = classify(name, tensor.dim(), n_layers=spec.num_layers)
        totals[role] = totals.get(role, 0) + math.prod(tensor.shape)
    assert totals == spec.parameters_by_role()


@pytest.mark.parametrize(
    ("name", "role"),
    [
        # DeepSeek-V3/R1: 61 decoder layers (0-60); layer 61 is the next-n (MTP) module
        ("model.layers.61.eh_proj.weight", Role.MTP),
        ("model.layers.61.self_attn.q_a_proj.weight", Role.MTP),
        ("model.layers.61.mlp.experts.3.down_proj.weight", Role.MTP),
        ("model.layers.60.self_attn.q_a_proj.weight", Role.ATTN_Q_A),
        ("model.layers.60.mlp.experts.3.down_proj.weight", Role.EXPERT_DOWN),
        ("model.layers.60.mlp.gate.e_score_correction_bias", Role.BIAS),
        # Qwen3-Next keeps its MTP head under mtp.*
        ("mtp.layers.0.mlp.experts.0.gate_proj.weight", Role.MTP),
        ("mtp.fc.weight", Role.MTP),
    ],
)
def test_next_n_layers_are_mtp(name, role):
    assert classify(name, 2, n_layers=61) is role


@pytest.mark.parametrize(
    ("name", "role"),
    [
        # Qwen2.5-VL (transformers 5 names) and LLaVA / Gemma 3 (checkpoint names)
        ("model.visual.blocks.0.attn.qkv.weight", Role.VISION),
        ("model.visual.blocks.31.mlp.down_proj.weight", Role.VISION),
        ("model.visual.merger.mlp.0.weight", Role.PROJECTOR),
        ("vision_tower.vision_model.encoder.layers.30.self_attn.q_proj.weight", Role.VISION),
        ("multi_modal_projector.linear_1.weight", Role.PROJECTOR),
        ("model.audio_tower.layers.3.self_attn.k_proj.weight", Role.VISION),
    ],
)
def test_tower_tensors_keep_their_tower_role(name, role):
    # a vision layer index past the decoder's layers is still vision, never MTP
    assert classify(name, 2, n_layers=28) is role


@pytest.mark.parametrize(
    ("name", "ndim", "role"),
    [
        ("model.layers.0.self_attn.q_proj.weight", 2, Role.ATTN_Q),
        ("model.layers.0.self_attn.q_proj.bias", 1, Role.BIAS),
        ("transformer.h.0.self_attention.query_key_value.weight", 2, Role.ATTN_QKV),
        ("model.layers.0.block_sparse_moe.experts.7.w2.weight", 2, Role.EXPERT_DOWN),
        ("model.layers.0.mlp.shared_expert_gate.weight", 2, Role.SHARED_EXPERT_ROUTER),
        ("model.layers.0.mlp.experts.gate_up_proj", 3, Role.EXPERT_GATE_UP),
        ("model.layers.0.mlp.experts.gate_up_proj_bias", 2, Role.BIAS),
        ("backbone.layers.0.mixer.dt_bias", 1, Role.SSM_PARAM),
        ("backbone.layers.0.mixer.A_log", 1, Role.SSM_PARAM),
        ("backbone.layers.0.mixer.conv1d.weight", 3, Role.SSM_CONV),
        ("model.layers.0.some_new_projection.weight", 2, Role.OTHER),
        ("model.layers.0.some_new_scale", 1, Role.NORM),
    ],
)
def test_names_from_several_families(name, ndim, role):
    assert classify(name, ndim, n_layers=32) is role


def test_every_gguf_tensor_name_resolves_without_error():
    """Every Hugging Face name gguf-py lists gets a role (the classifier never raises)."""
    from gguf.tensor_mapping import TensorNameMap

    for table in (TensorNameMap.mappings_cfg, TensorNameMap.block_mappings_cfg):
        for keys in table.values():
            for key in keys:
                assert isinstance(classify(key.format(bid=0) + ".weight", 2, n_layers=4), Role)
