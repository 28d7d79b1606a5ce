"""MLX quantization, byte-exact against mlx's quantize layout and published mlx-community files.

Outside references: the mx.quantize modes table (ml-explore/mlx v0.32.1 python/src/ops.cpp:
affine groups 32/64/128, bits 2-8, scale and bias in the input dtype; mxfp4/mxfp8 group 32 with an
E8M0 scale and no bias; nvfp4 group 16 with an E4M3 scale), and the Hub listing of
mlx-community/Meta-Llama-3.1-8B-Instruct-4bit (mlx-lm 0.16 conversion): model.safetensors 4.52 GB,
"Model size 1.25B params, Tensor type FP16 · U32" (the Hub counts uint32 words and fp16 values).
"""

import pytest

from planner.catalog import load_catalog
from planner.formats import FormatOptions, UnknownFormatError, parse_format
from planner.formats.mlx import mlx_bytes
from planner.model.spec import Role, TensorGroup


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def _storage(fmt_id, group, spec, **opts):
    return parse_format(fmt_id, FormatOptions(**opts)).storage(group, spec)


def test_affine_layout_of_one_linear(catalog):
    spec = catalog["meta-llama/Llama-3.1-8B-Instruct"].spec()
    q = TensorGroup("model.layers.*.mlp.down_proj.weight", Role.MLP_DOWN, (4096, 14336), 32)
    # per tensor: codes 4096 x 14336 x 4 / 8; scales and biases 4096 x 14336/64 fp16 each
    per = 4096 * 14336 // 2 + 2 * 4096 * (14336 // 64) * 2
    assert _storage("mlx-4bit", q, spec).bytes == 32 * per
    # 3-bit codes pack bit-contiguously: in x 3 / 32 uint32 words per row
    assert mlx_bytes((4096, 14336), 3, 64, 2, True) == 4096 * (14336 * 3 // 32) * 4 + 2 * 4096 * 224 * 2
    assert _storage("mlx-4bit", q, spec, group_size=32).bytes == 32 * (4096 * 14336 // 2 + 2 * 4096 * 448 * 2)


@pytest.mark.parametrize(
    ("fmt", "bits_per_weight"),
    [
        ("mlx-2bit", 2.5),
        ("mlx-3bit", 3.5),
        ("mlx-4bit", 4.5),
        ("mlx-5bit", 5.5),
        ("mlx-6bit", 6.5),
        ("mlx-8bit", 8.5),
        ("mlx-mxfp4", 4.25),  # 4 bits + one E8M0 byte per 32
        ("mlx-mxfp8", 8.25),
        ("mlx-nvfp4", 4.5),  # 4 bits + one E4M3 byte per 16
    ],
)
def test_bits_per_weight_of_each_mode(fmt, bits_per_weight):
    assert parse_format(fmt).nominal_bits == bits_per_weight


def test_mlx_community_llama_3_1_8b_4bit_matches_the_hub_listing(catalog):
    spec = catalog["meta-llama/Llama-3.1-8B-Instruct"].spec()
    report = parse_format("mlx-4bit").weights(spec)
    assert round(report.total_bytes / 1e9, 2) == 4.52  # model.safetensors 4.52 GB
    # the Hub's "1.25B params": uint32 code words + fp16 scales/biases + the fp16 norms
    elements = 0
    for t in report.tensors:
        if t.quantized:
            n = t.group.parameters
            elements += n * 4 // 32 + 2 * n // 64
        else:
            elements += t.group.parameters
    assert round(elements / 1e9, 2) == 1.25


def test_embeddings_and_head_are_quantized_norms_are_not(catalog):
    spec = catalog["meta-llama/Llama-3.1-8B-Instruct"].spec()
    report = parse_format("mlx-4bit").weights(spec)
    by_role = {t.group.role: t for t in report.tensors}
    assert by_role[Role.EMBEDDING].quantized and by_role[Role.LM_HEAD].quantized
    assert not by_role[Role.NORM].quantized
    assert by_role[Role.NORM].bytes == by_role[Role.NORM].group.parameters * 2


def test_routers_follow_each_architectures_quant_predicate(catalog):
    # qwen3_moe: mlp.gate -> {"group_size": 64, "bits": 8}; mixtral: the router is a plain Linear at the model bits
    qwen = catalog["Qwen/Qwen3-30B-A3B"].spec()
    router = next(t for t in qwen.tensors if t.role is Role.ROUTER)
    s = _storage("mlx-4bit", router, qwen)
    assert s.bytes == router.count * mlx_bytes(router.shape, 8, 64, 2, True) and "8-bit" in s.storage
    assert _storage("mlx-mxfp4", router, qwen).bytes == s.bytes  # 8-bit affine whatever the mode
    mixtral = catalog["mistralai/Mixtral-8x7B-Instruct-v0.1"].spec()
    gate = next(t for t in mixtral.tensors if t.role is Role.ROUTER)
    assert _storage("mlx-4bit", gate, mixtral).bytes == gate.count * mlx_bytes(gate.shape, 4, 64, 2, True)
    # DeepSeek's MoEGate keeps a plain weight array: no to_quantized
    ds = catalog["deepseek-ai/DeepSeek-V2-Lite"].spec()
    ds_gate = next(t for t in ds.tensors if t.role is Role.ROUTER)
    assert not _storage("mlx-4bit", ds_gate, ds).quantized


def test_in_features_not_a_multiple_of_the_group_stay_16_bit(catalog):
    spec = catalog["meta-llama/Llama-3.1-8B-Instruct"].spec()
    odd = TensorGroup("x.weight", Role.MLP_UP, (128, 100), 1)
    s = _storage("mlx-4bit", odd, spec)
    assert not s.quantized and s.bytes == 128 * 100 * 2


def test_experts_quantize_like_linears(catalog):
    spec = catalog["Qwen/Qwen3-30B-A3B"].spec()
    experts = next(t for t in spec.tensors if t.role is Role.EXPERT_DOWN)
    assert _storage("mlx-mxfp4", experts, spec).bytes == experts.count * mlx_bytes(
        experts.shape, 4, 32, 1, False
    )


def test_group_size_options_are_checked():
    assert parse_format("mlx-8bit", FormatOptions(group_size=128)).nominal_bits == 8.25
    with pytest.raises(UnknownFormatError, match="32, 64, 128"):
        parse_format("mlx-4bit", FormatOptions(group_size=48))
    with pytest.raises(UnknownFormatError, match="fixed group size of 32"):
        parse_format("mlx-mxfp4", FormatOptions(group_size=64))
