"""EXL2 / EXL3: parametric ids, average-bpw bytes, head bits, published EXL2 sizes."""

import math

import pytest

from planner.catalog import load_catalog
from planner.formats import FormatOptions, UnknownFormatError, format_ids, parse_format
from planner.model import Role, model_from_config

LLAMA = {
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 160,
    "num_hidden_layers": 2,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "vocab_size": 1000,
}
LINEARS = [(64, 64), (16, 64), (16, 64), (64, 64), (160, 64), (160, 64), (64, 160)]


def test_ids_are_parametric_and_canonical():
    assert "exl2-<bpw>" in format_ids() and "exl3-<bpw>" in format_ids()
    assert parse_format("exl2-4.65").id == "exl2-4.65"
    assert parse_format("EXL3-4").id == "exl3-4.0"
    assert parse_format("exl2-5.00").id == "exl2-5.0"
    assert parse_format("exl2-4.65").nominal_bits == 4.65


@pytest.mark.parametrize("fmt_id", ["exl2-1.5", "exl2-8.5", "exl3-9", "exl3-0.5"])
def test_bpw_outside_2_to_8_is_refused(fmt_id):
    with pytest.raises(UnknownFormatError, match=r"between 2\.0 and 8\.0"):
        parse_format(fmt_id)


def test_head_bits_options():
    with pytest.raises(UnknownFormatError):
        parse_format("exl2-4.0", FormatOptions(head_bits=7))  # EXL2: 2, 3, 4, 5, 6, 8
    assert parse_format("exl3-4.0", FormatOptions(head_bits=7)).head_bits == 7  # EXL3: 1-8


@pytest.mark.parametrize(("fmt_id", "head_bpw"), [("exl2-4.0", 6.3), ("exl3-4.0", 6)])
def test_exact_bytes_tiny_llama(fmt_id, head_bpw):
    report = parse_format(fmt_id).weights(model_from_config(LLAMA))
    by_role = report.bytes_by_role()
    # linear layers at the 4.0 bpw average; EXL2's default 6-bit head is ~6.3 bpw per its docs
    assert by_role[Role.MLP_DOWN] == math.ceil(2 * 64 * 160 * 4 / 8)
    assert by_role[Role.LM_HEAD] == math.ceil(1000 * 64 * head_bpw / 8)
    assert by_role[Role.EMBEDDING] == 2 * 1000 * 64  # fp16
    assert by_role[Role.NORM] == 2 * (64 + 2 * 2 * 64)  # fp16
    layers = sum(t.bytes for t in report.tensors if t.quantized and t.group.role is not Role.LM_HEAD)
    assert layers == sum(2 * o * i * 4 // 8 for o, i in LINEARS)  # two layers at 4 bits


def test_head_bits_option_changes_only_the_head():
    spec = model_from_config(LLAMA)
    six, eight = (
        parse_format("exl3-3.0").weights(spec),
        parse_format("exl3-3.0", FormatOptions(head_bits=8)).weights(spec),
    )
    assert eight.total_bytes - six.total_bytes == 1000 * 64 * 2 // 8


def test_no_modelled_engine_and_notes_say_where_it_runs():
    spec = model_from_config(LLAMA)
    for fmt_id in ("exl2-4.0", "exl3-4.0"):
        fmt = parse_format(fmt_id)
        assert fmt.engines == ()
        notes = fmt.weights(spec).notes
        assert any("average target" in n for n in notes)
        assert any("ExLlamaV" in n for n in notes)
    assert any("-hq" in n for n in parse_format("exl3-4.0").weights(spec).notes)
    tied = model_from_config(LLAMA | {"tie_word_embeddings": True})
    assert any("tied" in n for n in parse_format("exl2-4.0").weights(tied).notes)


# --- published EXL2 sizes ------------------------------------------------------------------------
# Default head bits (6). Each file is listed in decimal GB to 3 significant figures (+-0.005 GB
# per file); the bpw is the converter's average target, so agreement to that rounding is what
# the average model can promise (not guaranteed for every quant).

PUBLISHED = [
    # https://huggingface.co/turboderp/Llama-3-8B-Instruct-exl2/tree/<branch>: output.safetensors
    # (Llama 3 8B has Llama 3.1 8B's shapes)
    ("exl2-2.5", "meta-llama/Meta-Llama-3-8B-Instruct", 3.65, 1),
    ("exl2-4.0", "meta-llama/Meta-Llama-3-8B-Instruct", 4.96, 1),
    ("exl2-6.0", "meta-llama/Meta-Llama-3-8B-Instruct", 6.7, 1),
    # https://huggingface.co/bullerwins/Meta-Llama-3.1-8B-Instruct-exl2_4.0bpw: output.safetensors 4.96 GB
    ("exl2-4.0", "meta-llama/Llama-3.1-8B-Instruct", 4.96, 1),
    # https://huggingface.co/turboderp/Llama-3.1-70B-Instruct-exl2/tree/4.0bpw: 8.57+8.5+8.47+8.49+3.13 GB
    ("exl2-4.0", "meta-llama/Llama-3.1-70B-Instruct", 8.57 + 8.5 + 8.47 + 8.49 + 3.13, 5),
    # .../tree/5.0bpw: 8.47+8.54+8.57+8.44+8.55+3.14 GB
    ("exl2-5.0", "meta-llama/Llama-3.1-70B-Instruct", 8.47 + 8.54 + 8.57 + 8.44 + 8.55 + 3.14, 6),
]


@pytest.mark.parametrize(("fmt_id", "model_id", "published_gb", "files"), PUBLISHED)
def test_exl2_matches_published_quants(fmt_id, model_id, published_gb, files):
    planned = parse_format(fmt_id).weights(load_catalog()[model_id].spec()).total_bytes / 1e9
    assert planned == pytest.approx(published_gb, abs=files * 0.005 + 0.003)


def test_llama_3_1_8b_bits_per_weight():
    spec = load_catalog()["meta-llama/Llama-3.1-8B"].spec()
    bpw = {f: parse_format(f).weights(spec).bits_per_weight for f in ("exl2-4.0", "exl3-4.0", "exl2-6.0")}
    # 4.0 bpw linears + 6.3 / 6 bpw head + 16-bit embedding: 0.9 bpw above the target for this vocabulary
    assert bpw == pytest.approx({"exl2-4.0": 4.936, "exl3-4.0": 4.916, "exl2-6.0": 6.674}, abs=1e-3)
