"""The CLI says where the tensors came from, and warns at the top when the figures are approximate."""

from __future__ import annotations

import json
import warnings

import pytest

from planner.cli import main

UNKNOWN = {
    "model_type": "made_up_decoder",
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 100,
}
LLAMA = UNKNOWN | {"model_type": "llama"}


@pytest.fixture
def unknown_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("VRAM_PLANNER_META", "0")  # no transformers build: the generic estimate answers
    (tmp_path / "config.json").write_text(json.dumps(UNKNOWN))
    return tmp_path


@pytest.mark.parametrize("command", [["params"], ["estimate", "--format", "q4_k_m"]])
def test_an_approximate_model_gets_a_warning_line_first(unknown_dir, capsys, command):
    assert main([*command, "--model", str(unknown_dir)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("warning: approximate: architecture 'made_up_decoder' is not known")
    assert "counted as a Llama-style decoder; typical error ±" in first


def test_a_catalog_model_has_no_warning(capsys):
    assert main(["params", "--model", "meta-llama/Llama-3.1-8B", "--offline"]) == 0
    out = capsys.readouterr().out
    assert "warning:" not in out
    assert "tensors from hand-written builder" in out


def test_a_checkpoint_folder_is_planned_from_its_headers(tmp_path, capsys):
    from verify.backends import backend_for
    from verify.build import build_random

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_random(LLAMA, backend_for("bf16"), "cpu").model.save_pretrained(tmp_path)
    assert main(["params", "--model", str(tmp_path)]) == 0
    assert "tensors from safetensors headers" in capsys.readouterr().out
    assert main(["estimate", "--model", str(tmp_path), "--format", "stored", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["explain"]["inventory"]["source"] == "safetensors headers"
    # every tensor as stored: the file's tensor bytes (BF16, 2 bytes each)
    assert data["memory"]["weights"] == 2 * data["parameters"]["total"]
