"""``python -m planner params``: the JSON contract, text output, and errors."""

import json
import subprocess
import sys

import pytest

from planner.cli import main

TINY = {
    "model_type": "qwen3",
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 32,
    "vocab_size": 100,
    "tie_word_embeddings": True,
}


@pytest.fixture
def config_dir(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(TINY))
    return tmp_path


def test_params_json_contract(config_dir, capsys):
    assert main(["params", "--model", str(config_dir), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["architecture"] == "qwen3"
    assert set(out["parameters"]) >= {"total", "active"}
    assert out["parameters"]["total"] == sum(t["count"] * _prod(t["shape"]) for t in out["tensors"])
    assert {"name", "role", "shape", "count"} <= set(out["tensors"][0])
    layers = [(layer["index"], layer["attention"], layer["window"]) for layer in out["layers"]]
    assert layers == [(0, "full", None), (1, "full", None)]


def _prod(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def test_params_text_output(config_dir, capsys):
    assert main(["params", "--model", str(config_dir / "config.json")]) == 0
    out = capsys.readouterr().out
    assert "qwen3" in out
    assert "model.layers.*.self_attn.q_norm.weight" in out
    assert "lm_head is tied" in out


def test_catalog_id_works_offline(capsys):
    from planner.catalog import load_catalog

    model_id = sorted(load_catalog())[0]
    assert main(["params", "--model", model_id, "--json", "--offline"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == model_id


@pytest.mark.parametrize(
    ("model", "message"),
    [("nobody/nothing", "not in the shipped catalog"), ("./missing.json", "no such file")],
)
def test_unknown_model_is_a_clean_error(model, message, capsys):
    assert main(["params", "--model", model, "--offline"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_broken_config_is_a_clean_error(tmp_path, capsys):
    (tmp_path / "config.json").write_bytes(b"\x00\xff not json")
    assert main(["params", "--model", str(tmp_path)]) == 2
    assert "UTF-8" in capsys.readouterr().err


def test_module_entry_point(config_dir):
    result = subprocess.run(
        [sys.executable, "-m", "planner", "params", "--model", str(config_dir), "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(result.stdout)["parameters"]["total"] > 0


ESTIMATE_KEYS = {
    "model",
    "format",
    "engine",
    "context",
    "batch",
    "kv_dtype",
    "parameters",
    "memory",
    "host_memory",
}


def _estimate(capsys, *args):
    code = main(["estimate", "--model", "meta-llama/Llama-3.1-8B", "--offline", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_estimate_json_contract(capsys):
    code, out, _ = _estimate(capsys, "--format", "bnb-nf4", "--context", "8192", "--json")
    assert code == 0
    data = json.loads(out)
    assert ESTIMATE_KEYS | {"explain"} <= set(data)
    assert (data["format"], data["engine"], data["context"], data["batch"]) == (
        "bnb-nf4",
        "transformers",
        8192,
        1,
    )
    memory = data["memory"]
    assert all(
        isinstance(memory[k], int) and memory[k] >= 0
        for k in ("weights", "kv_cache", "activations", "overhead")
    )
    assert (
        memory["total"] == memory["weights"] + memory["kv_cache"] + memory["activations"] + memory["overhead"]
    )
    host = data["host_memory"]
    assert host["total"] == host["weights"] + host["kv_cache"] + host["activations"]
    assert data["parameters"]["total"] == 8_030_261_248


def test_estimate_defaults_engine_from_format(capsys):
    code, out, _ = _estimate(capsys, "--format", "Q4_K_M", "--json")
    assert code == 0
    data = json.loads(out)
    assert (data["engine"], data["format"], data["context"]) == ("llama.cpp", "q4_k_m", 4096)


def test_estimate_text_output_says_gib(capsys):
    code, out, _ = _estimate(capsys, "--format", "bf16")
    assert code == 0
    assert "GiB" in out
    assert "KV cache" in out


@pytest.mark.parametrize(
    ("args", "listed"),
    [
        (["--format", "int3000"], "bnb-nf4"),
        (["--format", "bf16", "--engine", "tensorrt"], "vllm"),
        (["--format", "bf16", "--kv-dtype", "int1"], "fp16"),
    ],
)
def test_estimate_unknown_values_exit_2_and_list_valid_ones(capsys, args, listed):
    code, _, err = _estimate(capsys, *args)
    assert code == 2
    assert listed in err
    assert "Traceback" not in err


def test_estimate_rejects_absurd_context(capsys):
    code, _, err = _estimate(capsys, "--format", "bf16", "--context", str(10**12))
    assert code == 2
    assert "context" in err
