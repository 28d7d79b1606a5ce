"""MXFP4 as gpt-oss stores it: expert blocks + E8M0 scales, BF16 elsewhere; checked against the published repos."""

import pytest

from planner.catalog import load_catalog
from planner.formats import parse_format
from planner.model import Role, model_from_config
from planner.model.spec import ROUTED_EXPERT_ROLES

GPT_OSS = {
    "model_type": "gpt_oss",
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "vocab_size": 300,
    "num_local_experts": 4,
    "num_experts_per_tok": 2,
    "sliding_window": 8,
}


def test_experts_are_17_bytes_per_32_weights_everything_else_bf16():
    spec = model_from_config(GPT_OSS)
    report = parse_format("mxfp4").weights(spec)
    by_role = report.bytes_by_role()
    e, h, i, layers = 4, 64, 96, 2
    # gate_up [2I, H]: H / 32 blocks per row, 16 code bytes + 1 scale byte each
    assert by_role[Role.EXPERT_GATE_UP] == layers * e * (2 * i) * (h // 32) * 17
    assert by_role[Role.EXPERT_DOWN] == layers * e * h * (i // 32) * 17
    for t in report.tensors:
        if t.group.role not in ROUTED_EXPERT_ROLES:
            assert not t.quantized and t.bytes == 2 * t.group.parameters  # expert biases included
    experts = [t for t in report.tensors if t.group.role in ROUTED_EXPERT_ROLES]
    assert all(t.bits_per_weight == 4.25 for t in experts)
    assert parse_format("mxfp4").nominal_bits == 4.25


def test_blocks_and_scales_are_what_transformers_dequantizes():
    """The planner's bytes per expert, shaped as the checkpoint stores them (``*_blocks`` uint8
    [E, out, in / 32, 16], ``*_scales`` uint8 [E, out, in / 32]), dequantize through transformers'
    own gpt-oss MXFP4 reader to the [E, out, in] weight."""
    torch = pytest.importorskip("torch")
    from transformers.integrations.mxfp4 import _convert_moe_packed_tensors

    e, out, inp = 4, 2 * 96, 64
    blocks = torch.randint(0, 256, (e, out, inp // 32, 16), dtype=torch.uint8)
    scales = torch.full((e, out, inp // 32), 127, dtype=torch.uint8)
    weight = _convert_moe_packed_tensors(blocks, scales, dtype=torch.bfloat16)
    assert weight.numel() == e * out * inp
    report = parse_format("mxfp4").weights(model_from_config(GPT_OSS))
    per_layer = report.bytes_by_role()[Role.EXPERT_GATE_UP] // GPT_OSS["num_hidden_layers"]
    assert per_layer == blocks.nbytes + scales.nbytes


def test_dense_models_get_no_mxfp4_and_a_note():
    llama = {
        "model_type": "llama",
        "hidden_size": 64,
        "intermediate_size": 160,
        "num_hidden_layers": 2,
        "num_attention_heads": 8,
        "vocab_size": 1000,
    }
    spec = model_from_config(llama)
    report = parse_format("mxfp4").weights(spec)
    assert report.total_bytes == 2 * spec.total_parameters
    assert any("no routed experts" in n for n in report.notes)


# --- published checkpoint sizes ---------------------------------------------------------------
# Hub listings round each file to 3 significant figures (+-0.005 GB per ~5 GB shard, +-0.05 GB on a
# repo total of ~65 GB).


def _gb(model_id):
    return parse_format("mxfp4").weights(load_catalog()[model_id].spec()).total_bytes / 1e9


def test_gpt_oss_20b_matches_published_checkpoint():
    # https://huggingface.co/openai/gpt-oss-20b/tree/main: model-00000/00001/00002-of-00002.safetensors
    # = 4.79 + 4.8 + 4.17 GB (the 13.8 GB usually quoted)
    assert _gb("openai/gpt-oss-20b") == pytest.approx(4.79 + 4.8 + 4.17, abs=3 * 0.005 + 0.002)


def test_gpt_oss_120b_matches_published_checkpoint():
    # https://huggingface.co/the-qa-company/gpt-oss-120b (the 14 main safetensors shards of
    # openai/gpt-oss-120b plus tokenizer/config files, ~0.03 GB): repo total 65.3 GB
    assert _gb("openai/gpt-oss-120b") + 0.03 == pytest.approx(65.3, abs=0.05 + 0.01)


def test_gpt_oss_20b_bits_per_weight():
    spec = load_catalog()["openai/gpt-oss-20b"].spec()
    # 19.1B expert weights at 4.25 bits, 1.8B attention/embedding/lm_head weights at 16 bits
    assert parse_format("mxfp4").weights(spec).bits_per_weight == pytest.approx(5.264, abs=1e-3)
