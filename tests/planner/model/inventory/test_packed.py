"""Packed checkpoints back to logical weights, for layouts as published checkpoints store them.

Shapes per layer of Llama-3.1-8B's / Llama-2-7B's ``q_proj`` (4096 x 4096) in each format's
published checkpoints: AWQ (AutoAWQ GEMM: qweight [in, out / 8]), compressed-tensors W4A16
(``weight_packed`` [out, in / 8]), NVFP4 (ModelOpt: U8 [out, in / 2] + F8 scales per 16).
"""

from __future__ import annotations

import math

import pytest

from planner.model.inventory.groups import StoredGroup
from planner.model.inventory.packed import logical_groups

DTYPE_BYTES = {"I32": 4, "F16": 2, "BF16": 2, "I64": 8, "U8": 1, "F8_E4M3": 1, "F32": 4}
Q = "model.layers.*.self_attn.q_proj"


def _group(name, dtype, shape, layers=32):
    return StoredGroup(
        name, dtype, shape, layers, tuple(range(layers)), layers * DTYPE_BYTES[dtype] * math.prod(shape)
    )


def _one(groups, **kw):
    (out,) = logical_groups(groups, **kw)
    return out


def test_awq_gemm():
    groups = [
        _group(f"{Q}.qweight", "I32", (4096, 512)),
        _group(f"{Q}.qzeros", "I32", (32, 512)),
        _group(f"{Q}.scales", "F16", (32, 4096)),
    ]
    q = _one(groups, bits=4)
    assert (q.name, q.shape, q.count) == (f"{Q}.weight", (4096, 4096), 32)
    assert q.stored_bytes == sum(g.nbytes for g in groups)
    assert q.stored_as == "I32 qweight + I32 qzeros + F16 scales"


def test_compressed_tensors_pack_quantized():
    groups = [
        _group(f"{Q}.weight_packed", "I32", (4096, 512)),
        _group(f"{Q}.weight_scale", "BF16", (4096, 32)),
        _group(f"{Q}.weight_shape", "I64", (2,)),
    ]
    q = _one(groups, bits=4)
    assert (q.shape, q.stored_bytes) == ((4096, 4096), sum(g.nbytes for g in groups))


def test_nvfp4():
    groups = [
        _group(f"{Q}.weight", "U8", (4096, 2048)),
        _group(f"{Q}.weight_scale", "F8_E4M3", (4096, 256)),
        _group(f"{Q}.weight_scale_2", "F32", ()),
        _group(f"{Q}.input_scale", "F32", ()),
    ]
    q = _one(groups)
    assert q.shape == (4096, 4096)
    assert q.stored_bytes * 8 / math.prod(q.shape) / q.count == pytest.approx(4.5 + 2 * 32 / (4096 * 4096))


def test_a_scale_without_its_weight_stays_a_tensor():
    (k_scale,) = logical_groups([_group("model.layers.*.self_attn.k_scale", "F32", ())])
    assert (k_scale.name, k_scale.shape) == ("model.layers.*.self_attn.k_scale", ())


def test_plain_tensors_pass_through():
    embed = _group("model.embed_tokens.weight", "BF16", (128256, 4096), layers=1)
    (out,) = logical_groups([embed])
    assert (out.shape, out.stored_bytes, out.stored_as) == ((128256, 4096), embed.nbytes, "BF16")
