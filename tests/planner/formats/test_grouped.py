"""GPTQ, AWQ and HQQ: exact bytes per layer, library layouts, published checkpoint sizes."""

import math

import pytest

from planner.catalog import load_catalog
from planner.formats import FormatOptions, UnknownFormatError, parse_format
from planner.model import Role, TensorGroup, model_from_config
from planner.model.spec import ROUTED_EXPERT_ROLES

LLAMA = {
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 160,
    "num_hidden_layers": 2,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "vocab_size": 1000,
}
MIXTRAL = {
    "model_type": "mixtral",
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 300,
    "num_local_experts": 4,
    "num_experts_per_tok": 2,
}
LINEARS = [(64, 64), (16, 64), (16, 64), (64, 64), (160, 64), (160, 64), (64, 160)]  # tiny Llama, per layer
KEPT_16BIT = 2 * (2 * 1000 * 64 + 64 + 2 * 2 * 64)  # embedding + lm_head + norms, fp16


def _one(fmt_id, shape, **options):
    """Bytes of one ``[out, in]`` linear in ``fmt_id``."""
    group = TensorGroup("model.layers.*.mlp.up_proj.weight", Role.MLP_UP, shape, count=1)
    return parse_format(fmt_id, FormatOptions(**options)).storage(group, model_from_config(LLAMA)).bytes


def _gptq(out, inp, bits, group=128):
    """vLLM gptq.py create_weights, by hand: qweight int32 [in*bits/32, out], qzeros int32
    [groups, out*bits/32], scales fp16 [groups, out], g_idx int32 [in]."""
    groups = math.ceil(inp / (inp if group == -1 else group))
    return 4 * (inp * bits // 32) * out + 4 * groups * (out * bits // 32) + 2 * groups * out + 4 * inp


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize("group", [32, 128, -1])
@pytest.mark.parametrize("shape", [(4096, 4096), (1024, 4096), (4096, 14336), (256, 128)])
def test_gptq_matches_vllm_create_weights_shapes(bits, group, shape):
    # 3-bit: 32 values in 3 int32 words, so in * 3 / 32 rows when 32 divides in
    assert _one(f"gptq-int{bits}", shape, group_size=group) == _gptq(*shape, bits, group)


def test_gptq_3bit_packs_32_values_in_three_words():
    # in = 4096: 4096 / 32 * 3 = 384 int32 rows of qweight per output column
    out, inp = 4096, 4096
    qweight = 384 * 4 * out
    assert _one("gptq-int3", (out, inp)) == qweight + 4 * 32 * 384 + 2 * 32 * out + 4 * inp


def test_gptq_exact_bytes_tiny_llama_group_32():
    # in=64 -> 2 groups of 32, in=160 -> 5 groups
    report = parse_format("gptq-int4", FormatOptions(group_size=32)).weights(model_from_config(LLAMA))
    assert report.total_bytes == 2 * sum(_gptq(o, i, 4, 32) for o, i in LINEARS) + KEPT_16BIT


def test_act_order_keeps_the_bytes_and_says_why():
    spec = model_from_config(LLAMA)
    plain = parse_format("gptq-int4").weights(spec)
    ordered = parse_format("gptq-int4", FormatOptions(act_order=True)).weights(spec)
    assert ordered.total_bytes == plain.total_bytes
    assert any("g_idx is stored either way" in n for n in ordered.notes)
    assert "act-order" in ordered.tensors[-1].storage


@pytest.mark.parametrize("group", [128, 64, -1])
def test_awq_gemm_layout(group):
    out, inp = 4096, 14336
    groups = 1 if group == -1 else inp // group
    expected = 4 * inp * (out // 8) + 4 * groups * (out // 8) + 2 * groups * out
    assert _one("awq-int4", (out, inp), group_size=group) == expected


def test_awq_bits_per_weight_at_group_128():
    out, inp = 4096, 4096
    # 4 bits + 16-bit scale and 4-bit zero per 128 weights = 4.15625 bits
    assert 8 * _one("awq-int4", (out, inp)) / (out * inp) == pytest.approx(4 + 16 / 128 + 4 / 128)


def test_hqq_layout_default_group_64():
    out, inp = 4096, 4096
    rows = out * inp // 64
    # 4-bit: 2 codes per uint8 down the rows of the [numel / 64, 64] view + fp16 scale and zero per group
    assert _one("hqq-int4", (out, inp)) == rows // 2 * 64 + 4 * rows
    # 3-bit: 10 rows per int32, rows padded to a multiple of 10
    assert _one("hqq-int3", (out, inp)) == math.ceil(rows / 10) * 4 * 64 + 4 * rows
    assert _one("hqq-int2", (out, inp)) == rows // 4 * 64 + 4 * rows
    assert _one("hqq-int8", (out, inp)) == rows * 64 + 4 * rows


def test_group_size_option_and_validation():
    assert parse_format("gptq-int4").group_size == 128
    assert parse_format("awq-int4").group_size == 128
    assert (
        parse_format("hqq-int4").group_size == 64
    )  # transformers HqqConfig / hqq BaseQuantizeConfig default
    assert parse_format("gptq-int4", FormatOptions(group_size=-1)).group_size == -1
    with pytest.raises(UnknownFormatError):
        parse_format("gptq-int4", FormatOptions(group_size=0))
    with pytest.raises(UnknownFormatError):
        parse_format("gptq-int5")


def test_engines():
    assert parse_format("gptq-int3").engines == ("transformers", "vllm")
    assert parse_format("awq-int4").engines == ("transformers", "vllm")
    # vLLM's HQQ support is 4-bit, group 64 only (hqq_marlin.py)
    assert parse_format("hqq-int4").engines == ("transformers", "vllm")
    assert parse_format("hqq-int4", FormatOptions(group_size=128)).engines == ("transformers",)
    assert parse_format("hqq-int2").engines == ("transformers",)


def test_moe_gptq_awq_quantize_experts_hqq_does_not():
    spec = model_from_config(MIXTRAL)
    for fmt_id in ("gptq-int4", "awq-int4"):
        report = parse_format(fmt_id).weights(spec)
        for t in report.tensors:
            if t.group.role in ROUTED_EXPERT_ROLES:
                assert t.quantized
            if t.group.role in (Role.ROUTER, Role.EMBEDDING, Role.LM_HEAD):
                assert not t.quantized
        assert report.notes == ()
    hqq = parse_format("hqq-int4").weights(spec)
    assert all(not t.quantized for t in hqq.tensors if t.group.role in ROUTED_EXPERT_ROLES)
    assert any("fused 3-D" in n for n in hqq.notes)


# --- HQQ against the hqq library (runs where hqq is installed) ------------------------------


@pytest.mark.parametrize("nbits", [8, 4, 3, 2])
@pytest.mark.parametrize(("shape", "group"), [((64, 128), 64), ((48, 80), 16), ((256, 512), 64)])
def test_hqq_bytes_match_the_hqq_quantizer(nbits, shape, group):
    torch = pytest.importorskip("torch")
    quantize = pytest.importorskip("hqq.core.quantize")
    weight = torch.randn(*shape, dtype=torch.float16)
    w_q, meta = quantize.Quantizer.quantize(
        weight,
        nbits=nbits,
        group_size=group,
        optimize=False,
        axis=1,
        compute_dtype=torch.float16,
        device="cpu",
    )
    # HQQLinear moves the meta to the compute dtype when it places the layer (Quantizer.to_inplace)
    w_q, meta = quantize.Quantizer.to_inplace(w_q, meta | {"compute_dtype": torch.float16}, "cpu")
    library = w_q.nbytes + meta["scale"].nbytes + meta["zero"].nbytes
    assert _one(f"hqq-int{nbits}", shape, group_size=group) == library


# --- published checkpoint sizes ---------------------------------------------------------------
# Hub listings round each file to 3 significant figures (+-0.005 GB per ~5 GB shard).


def _gb(fmt_id, model_id="meta-llama/Llama-3.1-8B-Instruct"):
    return parse_format(fmt_id).weights(load_catalog()[model_id].spec()).total_bytes / 1e9


def test_awq_int4_matches_hugging_quants_llama_3_1_8b():
    # https://huggingface.co/hugging-quants/Meta-Llama-3.1-8B-Instruct-AWQ-INT4/tree/main:
    # model-00001-of-00002 4.68 GB + model-00002-of-00002 1.05 GB (AutoAWQ GEMM, group 128)
    assert _gb("awq-int4") == pytest.approx(4.68 + 1.05, abs=2 * 0.005 + 0.002)


def test_gptq_int4_matches_hugging_quants_llama_3_1_8b():
    # https://huggingface.co/hugging-quants/Meta-Llama-3.1-8B-Instruct-GPTQ-INT4/tree/main:
    # model-00001-of-00002 4.97 GB + model-00002-of-00002 764 MB (AutoGPTQ, group 128)
    assert _gb("gptq-int4") == pytest.approx(4.97 + 0.764, abs=0.005 + 0.0005 + 0.002)


def test_gptq_int8_matches_published_llama_3_1_8b():
    # https://huggingface.co/iqbalamo93/Meta-Llama-3.1-8B-Instruct-GPTQ-Q_8/tree/main: 4.95 GB + 4.3 GB
    # (group size not stated on the listing)
    assert _gb("gptq-int8") == pytest.approx(4.95 + 4.3, abs=2 * 0.005 + 0.002)


def test_gptq_int8_matches_published_llama_3_1_70b():
    # https://huggingface.co/alpindale/Meta-Llama-3.1-70B-Instruct-GPTQ-INT8/tree/main: eight shards,
    # 9.99 + 9.78 + 9.88 + 9.88 + 9.95 + 9.95 + 9.88 + 4.97 GB (group size not stated on the listing;
    # a per-channel quant would be 1.4 GB smaller)
    published = 9.99 + 9.78 + 9.88 + 9.88 + 9.95 + 9.95 + 9.88 + 4.97
    assert _gb("gptq-int8", "meta-llama/Llama-3.1-70B-Instruct") == pytest.approx(
        published, abs=8 * 0.005 + 0.002
    )


def test_llama_3_1_8b_bits_per_weight():
    spec = load_catalog()["meta-llama/Llama-3.1-8B"].spec()
    bpw = {f: parse_format(f).weights(spec).bits_per_weight for f in ("gptq-int4", "awq-int4", "hqq-int4")}
    assert bpw == pytest.approx({"gptq-int4": 5.711, "awq-int4": 5.706, "hqq-int4": 6.005}, abs=1e-3)
