"""Engine-neutral KV pieces: cache types at their true block sizes, per-layer geometry, the cache figure.

How each engine allocates its cache is tested next to the engine (tests/planner/engines/<engine>/).
"""

import pytest

from planner.catalog import load_catalog
from planner.memory import kv
from planner.memory.estimate import SettingsError
from planner.model.spec import AttentionKind

KIB, MIB = 1 << 10, 1 << 20
BF16, FP16, FP8 = kv.cache_type("bf16"), kv.cache_type("f16"), kv.cache_type("fp8")


def spec_of(model_id):
    return load_catalog()[model_id].spec()


# ---------------------------------------------------------------------------------------------
# cache types
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "per_32"),
    # ggml-common.h: sizeof(block_q8_0) = 2 + 32, q5_1 = 2*2 + 4 + 16, q5_0 = 2 + 4 + 16,
    # q4_1 = 2*2 + 16, q4_0 = 2 + 16, iq4_nl = 2 + 16 -- bytes per 32 elements
    [
        ("q8_0", 34),
        ("q5_1", 24),
        ("q5_0", 22),
        ("q4_1", 20),
        ("q4_0", 18),
        ("iq4_nl", 18),
        ("f16", 64),
        ("f32", 128),
    ],
)
def test_block_types_at_their_true_block_size(name, per_32):
    assert kv.cache_type(name).row_bytes(32) == per_32
    assert kv.cache_type(name).row_bytes(1024) == per_32 * 32


def test_q8_0_is_34_over_32_bytes_per_element():
    assert kv.cache_type("q8_0").bytes_per_element == 34 / 32


def test_block_type_rows_must_be_whole_blocks():
    with pytest.raises(SettingsError, match="multiple of 32"):
        kv.cache_type("q4_0").row_bytes(48)


def test_aliases_and_unknown_types():
    assert kv.cache_type("F16").name == "fp16"
    assert kv.cache_type("bfloat16").name == "bf16"
    with pytest.raises(SettingsError, match="q8_0"):
        kv.cache_type("q3_k")


# ---------------------------------------------------------------------------------------------
# per-layer geometry, read from the spec
# ---------------------------------------------------------------------------------------------


def test_llama_31_8b_geometry():
    # config.json: 32 layers, 8 KV heads, head_dim 4096 / 32 = 128
    geo = kv.layer_geometry(spec_of("meta-llama/Llama-3.1-8B-Instruct"))
    assert len(geo) == 32
    assert {(g.kind, g.k_elements, g.v_elements, g.k_head_dim) for g in geo} == {
        (AttentionKind.FULL, 8 * 128, 8 * 128, 128)
    }


def test_deepseek_v3_geometry_is_the_latent():
    # config.json: kv_lora_rank 512 + qk_rope_head_dim 64
    geo = kv.layer_geometry(spec_of("deepseek-ai/DeepSeek-V3"))
    assert {(g.kind, g.latent, g.k_elements) for g in geo} == {(AttentionKind.MLA, 576, 0)}


def test_granite_h_small_geometry_splits_conv_and_state():
    # config.json: mamba_expand 2 x hidden 4096 + 2 x n_groups 1 x d_state 128 = 8448 conv channels,
    # mamba_d_conv 4; SSM state = mamba_n_heads 128 x mamba_d_head 64 x d_state 128
    spec = spec_of("ibm-granite/granite-4.0-h-small")
    geo = [g for g in kv.layer_geometry(spec) if g.kind is AttentionKind.LINEAR]
    assert len(geo) == 36 and {(g.conv_channels, g.conv_kernel) for g in geo} == {(8448, 4)}
    assert {g.ssm_elements for g in geo} == {128 * 64 * 128}


def test_cache_figure_sums_layers_and_names_parts():
    layers = (
        kv.LayerCache(0, AttentionKind.FULL, 10, 100, 100),
        kv.LayerCache(1, AttentionKind.SLIDING, 4, 40, 40),
        kv.LayerCache(2, AttentionKind.LINEAR, 0, 0, 0, state_bytes=7, padding_bytes=3),
        kv.LayerCache(3, AttentionKind.NONE, 0, 0, 0),
    )
    fig = kv.cache_figure(layers, ["rule"], keys=("context",), source="here")
    assert fig.bytes == 200 + 80 + 7 + 3
    assert fig.parts == {"full": 200, "sliding": 80, "linear": 7, "group_padding": 3}
    assert fig.rule == "rule = 290 B" and fig.exact


def test_runs_merge_identical_layers_in_first_layer_order():
    # Gemma 3 27B: 5 sliding (window 1024) then 1 full, repeated: 52 sliding + 10 full layers
    runs = kv.geometry_runs(spec_of("google/gemma-3-27b-it"))
    assert [(r.geometry.kind, len(r.indices)) for r in runs] == [
        (AttentionKind.SLIDING, 52),
        (AttentionKind.FULL, 10),
    ]
    assert runs[1].indices[:2] == (5, 11)
