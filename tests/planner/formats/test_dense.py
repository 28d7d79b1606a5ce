"""Dense formats (fp32/fp16/bf16, fp8 per tensor/channel/block, W8A8 int8): exact bytes, library layouts, published sizes."""

import math

import pytest

from planner.catalog import load_catalog
from planner.formats import parse_format
from planner.formats.base import DTYPE_BYTES
from planner.formats.registry import format_data
from planner.model import Role, model_from_config
from planner.model.spec import ROUTED_EXPERT_ROLES

# A tiny Llama: every matrix smaller than one 128x128 FP8 block except gate/up (160 rows).
LLAMA = {
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 160,
    "num_hidden_layers": 2,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "vocab_size": 1000,
}
H, FF, V, L = 64, 160, 1000, 2
KV = 2 * (64 // 8)  # k/v rows: 2 heads x head_dim 8
# (out, in) of every linear, per layer
LINEARS = [(H, H), (KV, H), (KV, H), (H, H), (FF, H), (FF, H), (H, FF)]
EMBED_AND_HEAD = 2 * V * H
NORMS = H + L * 2 * H


def _report(fmt_id, config=LLAMA):
    return parse_format(fmt_id).weights(model_from_config(config))


@pytest.mark.parametrize(("fmt_id", "size"), [("fp32", 4), ("fp16", 2), ("bf16", 2)])
def test_plain_dtypes_store_every_tensor_at_their_width(fmt_id, size):
    spec = model_from_config(LLAMA)
    report = parse_format(fmt_id).weights(spec)
    assert report.total_bytes == size * spec.total_parameters
    assert report.bits_per_weight == 8 * size
    assert not any(t.quantized for t in report.tensors)


def _expected_scaled(scales_per_linear):
    linear = sum(o * i + 4 * scales_per_linear(o, i) for o, i in LINEARS) * L
    return linear + 2 * (EMBED_AND_HEAD + NORMS)


@pytest.mark.parametrize(
    ("fmt_id", "scales"),
    [
        ("fp8", lambda o, i: 1),
        ("fp8-tensor", lambda o, i: 1),
        ("fp8-channel", lambda o, i: o),
        ("fp8-block", lambda o, i: math.ceil(o / 128) * math.ceil(i / 128)),
        ("int8", lambda o, i: o),
    ],
)
def test_scaled_8bit_formats_exact_bytes(fmt_id, scales):
    report = _report(fmt_id)
    assert report.total_bytes == _expected_scaled(scales)
    by_role = report.bytes_by_role()
    # embeddings, lm_head and norms stay 16-bit
    assert by_role[Role.EMBEDDING] == by_role[Role.LM_HEAD] == 2 * V * H
    assert by_role[Role.NORM] == 2 * NORMS
    # fp8-block: gate/up have 160 rows = 2 blocks of 128
    if fmt_id == "fp8-block":
        assert by_role[Role.MLP_GATE] == L * (FF * H + 4 * 2)


def test_fp8_is_the_per_tensor_layout_of_vllm_online_quantization():
    fp8, per_tensor = parse_format("fp8"), parse_format("fp8-tensor")
    spec = model_from_config(LLAMA)
    assert fp8.weights(spec).total_bytes == per_tensor.weights(spec).total_bytes
    assert fp8.id == "fp8" and "per tensor" in fp8.description
    assert fp8.engines == per_tensor.engines == ("transformers", "vllm")


def test_routers_and_embeddings_stay_16bit_but_experts_are_fp8():
    moe = {
        "model_type": "qwen3_moe",
        "hidden_size": 256,
        "intermediate_size": 384,
        "moe_intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 64,
        "vocab_size": 512,
        "num_experts": 4,
        "num_experts_per_tok": 2,
    }
    report = parse_format("fp8-block").weights(model_from_config(moe))
    for t in report.tensors:
        if t.group.role in (Role.ROUTER, Role.EMBEDDING, Role.LM_HEAD, Role.NORM):
            assert not t.quantized and t.bytes == 2 * t.group.parameters
        if t.group.role in ROUTED_EXPERT_ROLES:
            assert t.quantized


def test_byte_widths_match_torch_dtypes():
    torch = pytest.importorskip("torch")
    facts = format_data("dense")["formats"]
    assert torch.empty(0, dtype=torch.float8_e4m3fn).element_size() == facts["fp8-tensor"]["weight_bytes"]
    assert torch.empty(0, dtype=torch.int8).element_size() == facts["int8"]["weight_bytes"]
    assert torch.empty(0, dtype=torch.float32).element_size() == facts["fp8-block"]["scale_bytes"]
    for name, dtype in (("fp32", torch.float32), ("fp16", torch.float16), ("bf16", torch.bfloat16)):
        assert torch.empty(0, dtype=dtype).element_size() == DTYPE_BYTES[name]


# --- fp8-block against transformers' FineGrainedFP8 (the DeepSeek-V3 layout), on the meta device ---

SMALL = {
    "llama": {
        "model_type": "llama",
        "hidden_size": 320,  # not a multiple of 128: ceil-rounded scale grids
        "intermediate_size": 896,
        "num_hidden_layers": 2,
        "num_attention_heads": 5,
        "num_key_value_heads": 1,
        "vocab_size": 512,
    },
    # MoE sizes are multiples of 128: the checkpoint stores gate and up separately (one scale grid
    # each) while transformers fuses them, and the two grids only agree when 128 divides them.
    "qwen3_moe": {
        "model_type": "qwen3_moe",
        "hidden_size": 256,
        "intermediate_size": 384,
        "moe_intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 64,
        "vocab_size": 512,
        "num_experts": 4,
        "num_experts_per_tok": 2,
    },
}


def _meta_model(config):
    torch = pytest.importorskip("torch")
    from transformers import AutoConfig, AutoModelForCausalLM

    raw = dict(config)
    model_type = raw.pop("model_type")
    for key in ("pad_token_id", "bos_token_id", "eos_token_id"):
        raw[key] = None
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(AutoConfig.for_model(model_type, **raw), dtype=torch.bfloat16)


@pytest.mark.parametrize("name", SMALL)
def test_fp8_block_matches_transformers_finegrained_fp8(name):
    """transformers 5.23 integrations/finegrained_fp8.py: FP8Linear / FP8Experts, weight_scale_inv fp32."""
    pytest.importorskip("torch")
    from transformers import FineGrainedFP8Config
    from transformers.integrations.finegrained_fp8 import replace_with_fp8_linear
    from transformers.quantizers.base import get_keys_to_not_convert

    model = _meta_model(SMALL[name])
    model = replace_with_fp8_linear(
        model,
        modules_to_not_convert=get_keys_to_not_convert(model),
        quantization_config=FineGrainedFP8Config(),
    )
    fp8_bytes, other_params = 0, 0
    for module in model.modules():
        own = list(module.parameters(recurse=False))
        if type(module).__name__.startswith("FP8"):
            fp8_bytes += sum(p.nbytes for p in own)
        else:
            other_params += sum(p.numel() for p in own)
    report = parse_format("fp8-block").weights(model_from_config(SMALL[name]))
    assert sum(t.bytes for t in report.tensors if t.quantized) == fp8_bytes
    assert sum(t.group.parameters for t in report.tensors if not t.quantized) == other_params


# --- published checkpoint sizes ---------------------------------------------------------------

# Hub file listings show each shard in decimal GB to 3 significant figures, so each shard is
# good to +-0.005 GB; the tolerance is that per shard (plus a few MB of headers and metadata).


def _gb(fmt_id, model_id):
    return parse_format(fmt_id).weights(load_catalog()[model_id].spec()).total_bytes / 1e9


def test_bf16_llama_3_1_8b_matches_the_published_checkpoint():
    # https://huggingface.co/NousResearch/Meta-Llama-3.1-8B/tree/main (mirror of meta-llama/Llama-3.1-8B):
    # model-0000{1..4}-of-00004.safetensors = 4.98 + 5 + 4.92 + 1.17 GB
    assert _gb("bf16", "meta-llama/Llama-3.1-8B") == pytest.approx(
        4.98 + 5 + 4.92 + 1.17, abs=4 * 0.005 + 0.002
    )


def test_fp8_llama_3_1_8b_instruct_matches_neuralmagic_checkpoint():
    # https://huggingface.co/neuralmagic/Meta-Llama-3.1-8B-Instruct-FP8/tree/main (static per-tensor FP8,
    # lm_head BF16): model-00001-of-00002 5 GB + model-00002-of-00002 4.08 GB
    assert _gb("fp8", "meta-llama/Llama-3.1-8B-Instruct") == pytest.approx(5 + 4.08, abs=2 * 0.005 + 0.002)


def test_llama_3_1_8b_bits_per_weight():
    spec = load_catalog()["meta-llama/Llama-3.1-8B"].spec()
    bpw = {f: parse_format(f).weights(spec).bits_per_weight for f in ("bf16", "fp8", "fp8-block", "int8")}
    assert bpw["bf16"] == 16
    # 6.98B linear weights at ~8 bits + 1.05B embedding/lm_head at 16 bits
    assert bpw["fp8"] == pytest.approx(9.047, abs=1e-3)
    assert bpw["fp8"] < bpw["fp8-block"] < bpw["int8"]
