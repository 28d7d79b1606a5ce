"""bitsandbytes formats: exact bytes, checked against bitsandbytes itself (CPU backend) and published checkpoints."""

import pytest

from planner.catalog import load_catalog
from planner.formats import FormatOptions, parse_format
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
QWEN3_MOE = {
    "model_type": "qwen3_moe",
    "hidden_size": 64,
    "intermediate_size": 96,
    "moe_intermediate_size": 48,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "vocab_size": 300,
    "num_experts": 4,
    "num_experts_per_tok": 2,
}
LINEARS = [(64, 64), (16, 64), (16, 64), (64, 64), (160, 64), (160, 64), (64, 160)]  # tiny Llama, per layer
KEPT_16BIT = 2 * (2 * 1000 * 64 + 64 + 2 * 2 * 64)  # embedding + lm_head + norms, bf16


def _four_bit(n, double_quant):
    """Hand-computed from bitsandbytes 0.50.2 _ops.py / functional.py (see data/formats/bitsandbytes.json)."""
    blocks = -(-n // 64)
    codes = (n + 1) // 2 + 16 * 4  # packed uint8 + 16-entry fp32 code table
    if double_quant:
        return codes + blocks + 4 * -(-blocks // 256) + 256 * 4 + 4
    return codes + 4 * blocks


@pytest.mark.parametrize("fmt_id", ["bnb-nf4", "bnb-nf4-dq", "bnb-fp4", "bnb-fp4-dq"])
def test_four_bit_exact_bytes_tiny_llama(fmt_id):
    report = parse_format(fmt_id).weights(model_from_config(LLAMA))
    dq = fmt_id.endswith("-dq")
    assert report.total_bytes == 2 * sum(_four_bit(o * i, dq) for o, i in LINEARS) + KEPT_16BIT
    assert report.bytes_by_role()[Role.LM_HEAD] == 2 * 1000 * 64


def test_int8_exact_bytes_tiny_llama():
    report = parse_format("bnb-int8").weights(model_from_config(LLAMA))
    assert report.total_bytes == 2 * sum(o * i + 4 * o for o, i in LINEARS) + KEPT_16BIT


def test_double_quant_option_overrides_the_id():
    assert parse_format("bnb-nf4", FormatOptions(double_quant=True)).id == "bnb-nf4-dq"
    assert parse_format("bnb-fp4-dq", FormatOptions(double_quant=False)).id == "bnb-fp4"
    assert parse_format("BNB-NF4-DQ").id == "bnb-nf4-dq"


def test_moe_experts_and_router_stay_bf16_with_a_note():
    spec = model_from_config(QWEN3_MOE)
    report = parse_format("bnb-nf4").weights(spec)
    for t in report.tensors:
        if t.group.role in ROUTED_EXPERT_ROLES | {Role.ROUTER}:
            assert not t.quantized and t.bytes == 2 * t.group.parameters
    assert any("bitsandbytes#1849" in n for n in report.notes)
    assert parse_format("bnb-nf4").weights(model_from_config(LLAMA)).notes == ()


def test_llama_3_1_8b_bits_per_weight():
    spec = load_catalog()["meta-llama/Llama-3.1-8B"].spec()
    bpw = {f: parse_format(f).weights(spec).bits_per_weight for f in ("bnb-nf4", "bnb-nf4-dq", "bnb-int8")}
    # 6.98B linear weights at 4.5 / ~4.127 / ~8.0 bits, 1.05B embedding + lm_head at 16 bits
    assert bpw == pytest.approx({"bnb-nf4": 6.005, "bnb-nf4-dq": 5.681, "bnb-int8": 9.053}, abs=1e-3)


# --- against bitsandbytes itself -------------------------------------------------------------

SHAPES = [(64, 128), (33, 65), (7, 3), (1, 4097), (96, 4096)]  # odd sizes: ceil rounding as bnb allocates


def _bnb():
    pytest.importorskip("torch")
    return pytest.importorskip("bitsandbytes.functional")


def _planner_tensor_bytes(fmt_id, shape):
    group = TensorGroup("model.layers.*.mlp.up_proj.weight", Role.MLP_UP, shape, count=1)
    spec = model_from_config(LLAMA)
    return parse_format(fmt_id).storage(group, spec).bytes


def _state_bytes(out, state):
    parts = [out, state.absmax, state.code]
    if state.nested:
        parts += [state.state2.absmax, state.state2.code, state.offset]
    return sum(t.nbytes for t in parts)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("quant_type", ["nf4", "fp4"])
@pytest.mark.parametrize("double_quant", [False, True])
def test_four_bit_bytes_match_bitsandbytes_quantize_4bit(shape, quant_type, double_quant):
    import torch

    functional = _bnb()
    weight = torch.randn(*shape, dtype=torch.bfloat16)
    out, state = functional.quantize_4bit(
        weight, blocksize=64, quant_type=quant_type, compress_statistics=double_quant
    )
    fmt_id = f"bnb-{quant_type}" + ("-dq" if double_quant else "")
    assert _planner_tensor_bytes(fmt_id, shape) == _state_bytes(out, state)


@pytest.mark.parametrize("shape", SHAPES)
def test_int8_bytes_match_bitsandbytes_int8_vectorwise_quant(shape):
    import torch

    functional = _bnb()
    cb, scb, _ = functional.int8_vectorwise_quant(torch.randn(*shape, dtype=torch.float16))
    assert _planner_tensor_bytes("bnb-int8", shape) == cb.nbytes + scb.nbytes


def _transformers_bnb_bytes(config, **bnb_kwargs):
    """What transformers + bitsandbytes allocate for ``config``: transformers' own module swap
    (replace_with_bnb_linear, skipping get_keys_to_not_convert) on a meta-device model, then
    bitsandbytes' quantizer run on a random weight of each swapped layer's shape."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForImageTextToText, BitsAndBytesConfig
    from transformers.integrations.bitsandbytes import replace_with_bnb_linear
    from transformers.quantizers.base import get_keys_to_not_convert

    functional = _bnb()
    import bitsandbytes as bnb

    raw = dict(config)
    model_type = raw.pop("model_type")
    for key in ("pad_token_id", "bos_token_id", "eos_token_id"):
        raw[key] = None
    auto = AutoModelForImageTextToText if "vision_config" in raw else AutoModelForCausalLM
    with torch.device("meta"):
        model = auto.from_config(AutoConfig.for_model(model_type, **raw), dtype=torch.bfloat16)
    model = replace_with_bnb_linear(
        model,
        modules_to_not_convert=get_keys_to_not_convert(model),
        quantization_config=BitsAndBytesConfig(**bnb_kwargs),
    )
    total, seen = 0, set()  # tied parameters are one tensor
    for module in model.modules():
        if isinstance(module, (bnb.nn.Linear4bit, bnb.nn.Linear8bitLt)) and module.bias is not None:
            # biases stay in the model dtype (bf16 here) when the checkpoint loads; the freshly
            # built module's placeholder is fp32
            total += module.bias.numel() * 2
        if isinstance(module, bnb.nn.Linear4bit):
            w = module.weight
            out, state = functional.quantize_4bit(
                torch.randn(module.out_features, module.in_features, dtype=torch.bfloat16),
                blocksize=w.blocksize,
                quant_type=w.quant_type,
                compress_statistics=w.compress_statistics,
            )
            total += _state_bytes(out, state)
        elif isinstance(module, bnb.nn.Linear8bitLt):
            cb, scb, _ = functional.int8_vectorwise_quant(
                torch.randn(module.out_features, module.in_features, dtype=torch.float16)
            )
            total += cb.nbytes + scb.nbytes
        else:
            for p in module.parameters(recurse=False):
                total += 0 if id(p) in seen else p.nbytes
                seen.add(id(p))
    return total


CASES = {
    "bnb-nf4": {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4"},
    "bnb-nf4-dq": {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": True},
    "bnb-fp4-dq": {"load_in_4bit": True, "bnb_4bit_quant_type": "fp4", "bnb_4bit_use_double_quant": True},
    "bnb-int8": {"load_in_8bit": True},
}
# Gemma 3 with a SigLIP tower: its nn.Linear layers are swapped too; the patch conv, position
# embedding, norms and the bare mm_input_projection_weight parameter are not.
GEMMA3 = {
    "model_type": "gemma3",
    "text_config": {
        "model_type": "gemma3_text",
        "hidden_size": 48,
        "intermediate_size": 80,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 32,
        "vocab_size": 300,
        "sliding_window": 16,
    },
    "vision_config": {
        "model_type": "siglip_vision_model",
        "hidden_size": 32,
        "intermediate_size": 40,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "image_size": 56,
        "patch_size": 14,
        "vision_use_head": False,
    },
}
# Jamba: Mamba in/x/dt/out projections are nn.Linear (swapped); conv1d, A_log and D are not.
JAMBA = {
    "model_type": "jamba",
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 300,
    "num_experts": 4,
    "num_experts_per_tok": 2,
    "attn_layer_period": 4,
    "attn_layer_offset": 2,
    "expert_layer_period": 2,
    "expert_layer_offset": 1,
    "mamba_d_state": 8,
}
MODELS = {
    "llama": LLAMA,
    "llama-tied": LLAMA | {"tie_word_embeddings": True},
    "qwen3_moe": QWEN3_MOE,
    "gemma3-vision": GEMMA3,
    "jamba": JAMBA,
}


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("fmt_id", CASES)
def test_whole_model_matches_transformers_plus_bitsandbytes(model, fmt_id):
    """Exact: which modules transformers swaps (lm_head, embeddings, v5 routers and fused experts
    are not) and what bitsandbytes allocates for each."""
    _bnb()
    expected = _transformers_bnb_bytes(MODELS[model], **CASES[fmt_id])
    assert parse_format(fmt_id).weights(model_from_config(MODELS[model])).total_bytes == expected


# --- published checkpoint sizes ---------------------------------------------------------------
# Hub listings round each file to 3 significant figures (+-0.005 GB per shard of ~5 GB). The
# repos' quantization_config was not retrieved; their size is what tells double quant (5.70 GB for
# Llama-3-8B's shapes) from plain NF4 (6.03 GB).


def _gb(fmt_id, model_id="meta-llama/Meta-Llama-3-8B-Instruct"):
    return parse_format(fmt_id).weights(load_catalog()[model_id].spec()).total_bytes / 1e9


def test_four_bit_double_quant_matches_published_llama_3_8b_checkpoint():
    # https://huggingface.co/alokabhishek/Meta-Llama-3-8B-Instruct-bnb-4bit/tree/main: 4.65 GB + 1.05 GB
    assert _gb("bnb-nf4-dq") == pytest.approx(4.65 + 1.05, abs=2 * 0.005 + 0.002)
    assert _gb("bnb-nf4") == pytest.approx(6.03, abs=0.005)  # plain NF4 would be 0.33 GB larger
    # https://huggingface.co/osllmai-community/Meta-Llama-3.1-8B-bnb-4bit model.safetensors: 5.7 GB
    assert _gb("bnb-nf4-dq", "meta-llama/Llama-3.1-8B") == pytest.approx(5.7, abs=0.05)


def test_int8_matches_published_llama_3_8b_checkpoint():
    # https://huggingface.co/alokabhishek/Meta-Llama-3-8B-Instruct-bnb-8bit/tree/main: 5 GB + 4.09 GB
    assert _gb("bnb-int8") == pytest.approx(5 + 4.09, abs=2 * 0.005 + 0.002)
