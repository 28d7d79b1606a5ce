"""``estimate`` with the Ollama and MLX engines, Ollama tags, the extra components and the launch command."""

import json

from planner.cli import main


def _json(capsys, *args):
    assert main(["estimate", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_an_ollama_tag_resolves_with_its_format_and_engine(capsys):
    doc = _json(capsys, "--model", "llama3.1:8b", "--offline")
    assert doc["model"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert doc["format"] == "q4_k_m" and doc["engine"] == "ollama"
    assert doc["launch"]["env"] == {"OLLAMA_NUM_PARALLEL": "1"}
    assert "FROM llama3.1:8b" in doc["launch"]["command"]


def test_ollama_and_mlx_text_output(capsys):
    assert (
        main(["estimate", "--model", "qwen2.5:7b", "--context", "16k", "--batch", "2", "--gpu", "4090"]) == 0
    )
    out = capsys.readouterr().out
    assert "on ollama, context 16,384 x batch 2" in out
    assert (
        "launch (shell" in out and "PARAMETER num_ctx 16384" in out and "export OLLAMA_NUM_PARALLEL=2" in out
    )
    assert (
        main(["estimate", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--format", "mlx-4bit", "--offline"])
        == 0
    )
    out = capsys.readouterr().out
    assert "on mlx" in out and "mlx_lm.generate" in out and "estimate]" in out  # banded figures are marked


def test_mxfp4_on_llamacpp_points_at_mxfp4_moe(capsys):
    assert (
        main(["estimate", "--model", "openai/gpt-oss-20b", "--format", "mxfp4", "--engine", "llama.cpp"]) != 0
    )
    err = capsys.readouterr().err
    assert "--engine" in err and "mxfp4_moe" in err and "use --format mxfp4_moe" in err


def test_no_format_and_no_tag_names_the_parameter(capsys):
    assert main(["estimate", "--model", "meta-llama/Llama-3.1-8B-Instruct"]) != 0
    assert "--format" in capsys.readouterr().err


def test_extra_flags(capsys):
    doc = _json(
        capsys,
        "--model",
        "meta-llama/Llama-3.1-8B-Instruct",
        "--format",
        "q4_k_m",
        "--draft-model",
        "meta-llama/Llama-3.2-1B-Instruct",
        "--lora-rank",
        "16",
        "--max-loras",
        "2",
        "--offline",
    )
    assert doc["memory"]["draft"] > 0 and doc["memory"]["lora"] == 2 * 32 * 1_310_720 * 4
    assert "--spec-draft-model" in doc["launch"]["command"]
    doc = _json(capsys, "--model", "google/gemma-3-4b-it", "--format", "q4_k_m", "--no-mmproj", "--offline")
    assert doc["memory"]["mmproj"] == 0 and "--no-mmproj" in doc["launch"]["command"]
    assert main(["estimate", "--model", "x", "--format", "q4_k_m", "--mmproj", "--no-mmproj"]) != 0
    assert "not allowed with argument --mmproj" in capsys.readouterr().err


def test_bad_draft_model_names_its_flag(capsys):
    assert (
        main(
            [
                "estimate",
                "--model",
                "meta-llama/Llama-3.1-8B-Instruct",
                "--format",
                "q4_k_m",
                "--draft-model",
                "nope/none",
                "--offline",
            ]
        )
        != 0
    )
    assert "draft" in capsys.readouterr().err
