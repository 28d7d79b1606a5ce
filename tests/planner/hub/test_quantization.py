"""planner.hub.quantization: pre-quantization read from configs, tensor layouts, and both merged."""

from __future__ import annotations

import pytest

from planner.hub import (
    PreQuantization,
    TensorEntry,
    merge_quantization,
    quantization_from_config,
    quantization_from_tensors,
)


def _t(name: str, dtype: str, *shape: int) -> TensorEntry:
    return TensorEntry(name, dtype, shape)


def test_quantization_from_tensors_awq():
    p = "model.layers.0.self_attn.q_proj"
    q = quantization_from_tensors(
        [_t(f"{p}.qweight", "I32", 64, 8), _t(f"{p}.qzeros", "I32", 2, 8), _t(f"{p}.scales", "F16", 2, 64)]
    )
    assert q is not None and (q.method, q.bits, q.group_size, q.source) == ("awq", 4, 32, "tensors")


def test_quantization_from_tensors_bitsandbytes():
    p = "model.layers.0.mlp.up_proj.weight"
    nf4 = quantization_from_tensors(
        [
            _t(p, "U8", 4096, 1),
            _t(f"{p}.absmax", "F32", 128),
            _t(f"{p}.quant_map", "F32", 16),
            _t(f"{p}.quant_state.bitsandbytes__nf4", "U8", 100),
        ]
    )
    assert nf4 is not None and (nf4.method, nf4.bits) == ("bitsandbytes", 4)
    assert "nf4" in nf4.evidence[0]
    int8 = quantization_from_tensors([_t(p, "I8", 128, 64), _t(p.replace("weight", "SCB"), "F32", 128)])
    assert int8 is not None and (int8.method, int8.bits) == ("bitsandbytes", 8)


def test_quantization_from_tensors_mxfp4_nvfp4_and_plain():
    e = "model.layers.0.mlp.experts"
    mx = quantization_from_tensors(
        [
            _t(f"{e}.gate_up_proj_blocks", "U8", 32, 5760, 90, 16),
            _t(f"{e}.gate_up_proj_scales", "U8", 32, 5760, 90),
        ]
    )
    assert mx is not None and (mx.method, mx.bits, mx.group_size) == ("mxfp4", 4, 32)
    w = "model.layers.0.mlp.down_proj"
    nv = quantization_from_tensors(
        [
            _t(f"{w}.weight", "U8", 64, 32),
            _t(f"{w}.weight_scale", "F8_E4M3", 64, 4),
            _t(f"{w}.weight_scale_2", "F32"),
        ]
    )
    assert nv is not None and (nv.method, nv.bits) == ("nvfp4", 4)
    plain = quantization_from_tensors([_t("lm_head.weight", "BF16", 256, 64), _t("norm.weight", "F32", 64)])
    assert plain is None


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 128}}, ("gptq", 4, 128)),
        ({"quantization_config": {"quant_method": "awq", "bits": 4, "group_size": -1}}, ("awq", 4, None)),
        (
            {"quantization_config": {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4"}},
            ("bitsandbytes", 4, None),
        ),
        (
            {"quantization_config": {"quant_method": "bitsandbytes", "load_in_8bit": True}},
            ("bitsandbytes", 8, None),
        ),
        (
            {"quantization_config": {"quant_method": "fp8", "weight_block_size": [128, 128]}},
            ("fp8", 8, None),
        ),
        ({"quantization_config": {"quant_method": "mxfp4"}}, ("mxfp4", 4, 32)),
        (
            {
                "quantization_config": {
                    "quant_method": "compressed-tensors",
                    "config_groups": {
                        "group_0": {"weights": {"num_bits": 4, "group_size": 128, "type": "int"}}
                    },
                }
            },
            ("compressed-tensors", 4, 128),
        ),
        ({"text_config": {"quantization_config": {"quant_method": "AWQ", "bits": 4}}}, ("awq", 4, None)),
        ({"quantization_config": {"quant_method": "gptq", "bits": True}}, ("gptq", None, None)),
    ],
)
def test_quantization_from_config(config, expected):
    q = quantization_from_config(config)
    assert q is not None and (q.method, q.bits, q.group_size) == expected and q.source == "config"


@pytest.mark.parametrize("config", [None, {}, {"quantization_config": None}, {"quantization_config": "gptq"}])
def test_no_quantization_config(config):
    assert quantization_from_config(config) is None


def test_merge_quantization_fills_gaps_from_tensors():
    from_config = PreQuantization("gptq", None, None, source="config", evidence=("config",))
    from_tensors = PreQuantization("gptq", 4, 128, source="tensors", evidence=("tensors",))
    merged = merge_quantization(from_config, from_tensors)
    assert merged is not None and (merged.bits, merged.group_size, merged.source) == (
        4,
        128,
        "config+tensors",
    )
    assert merge_quantization(None, from_tensors) is from_tensors
    assert merge_quantization(None, None) is None
