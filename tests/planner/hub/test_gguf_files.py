"""planner.hub.gguf_files: quantization types read from GGUF names, shards grouped into variants."""

from __future__ import annotations

import pytest

from planner.hub import GGUFVariant, gguf_quant_type, gguf_variants


@pytest.mark.parametrize(
    ("filename", "quant"),
    [
        ("Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf", "Q4_K_M"),
        ("Qwen2.5-7B-Instruct-IQ2_XS.gguf", "IQ2_XS"),
        ("llama-2-7b.Q8_0.gguf", "Q8_0"),
        ("qwen2-7b-instruct-q5_k_s.gguf", "Q5_K_S"),
        ("ggml-model-f16.gguf", "F16"),
        ("model-fp16.gguf", "F16"),
        ("gemma-3-27b-it-BF16-00001-of-00002.gguf", "BF16"),
        ("Q4_K_M/DeepSeek-R1-Q4_K_M-00003-of-00009.gguf", "Q4_K_M"),
        ("Qwen3-30B-A3B-UD-Q4_K_XL.gguf", "UD-Q4_K_XL"),
        ("Llama-3.2-1B-Instruct-IQ4_NL.gguf", "IQ4_NL"),
        ("Llama-3.2-1B-Instruct-IQ3_XXS.gguf", "IQ3_XXS"),
        ("Llama-3.2-1B-Instruct-Q4_0_4_4.gguf", "Q4_0_4_4"),
        ("gpt-oss-20b-MXFP4.gguf", "MXFP4"),
        ("BitNet-b1.58-TQ1_0.gguf", "TQ1_0"),
        ("model.gguf", None),
        ("Q2-finetune.gguf", None),
    ],
)
def test_gguf_quant_type(filename, quant):
    assert gguf_quant_type(filename) == quant


def test_gguf_variants_group_shards_and_flag_missing_ones():
    variants = gguf_variants(
        [
            ("m-Q4_K_M-00001-of-00003.gguf", 10),
            ("m-Q4_K_M-00003-of-00003.gguf", 5),
            ("m-Q8_0.gguf", 30),
            ("m-Q2_K.gguf.part1of2", 4),
            ("m-Q2_K.gguf.part2of2", 4),
            ("README.md", 1),
            ("config.json", 1),
        ]
    )
    assert [v.quant for v in variants] == ["Q2_K", "Q4_K_M", "Q8_0"]
    q2, q4, _ = variants
    assert (q2.shards, q2.size_bytes, q2.complete) == (2, 8, True)
    assert (q4.shards, q4.expected_shards, q4.size_bytes, q4.complete) == (2, 3, 15, False)
    assert isinstance(q4, GGUFVariant) and q4.name == "m-Q4_K_M.gguf"
