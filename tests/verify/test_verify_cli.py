"""``python -m verify``: run, env and wheels from the command line (collect: test_verify_collect.py)."""

import json

import pytest

from verify.cli import main


def test_run_cpu_tiny_json(capsys, tmp_path):
    pytest.importorskip("bitsandbytes")
    out = tmp_path / "r.json"
    code = main(
        [
            *("run", "--model", "Qwen/Qwen3-8B", "--format", "bnb-nf4", "--device", "cpu", "--tiny"),
            *("--context", "16", "--batch", "2", "--decode", "2", "--json", "--out", str(out)),
        ]
    )
    assert code == 0
    record = json.loads(capsys.readouterr().out)
    assert record == json.loads(out.read_text())
    assert record["status"] == "ok" and record["error"]["weights"]["abs"] == 0


def test_run_prints_a_table(capsys):
    args = ["run", "--model", "Qwen/Qwen3-8B", "--format", "bf16", "--device", "cpu", "--tiny"]
    assert main([*args, "--context", "8", "--decode", "0"]) == 0
    text = capsys.readouterr().out
    assert "status: ok" in text and "KV cache" in text and "+0.00%" in text


def test_user_errors_exit_2(capsys):
    assert main(["run", "--model", "m", "--format", "bf16", "--context", "8", "--decode", "8"]) == 2
    assert "decode (8) must be smaller than context (8)" in capsys.readouterr().err
    assert main(["suite", "no/such/suite.json", "--out", "x"]) == 2


def test_env_without_cuda_exits_3(capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert main(["env", "--device", "cuda"]) == 3
    assert main(["env"]) == 0
    env = json.loads(capsys.readouterr().out)
    assert env["device"] == "cpu" and env["packages"]["torch"] and env["gpu"] is None


def test_wheels_dry_run_prints_the_pip_commands(capsys, tmp_path):
    assert main(["wheels", str(tmp_path), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any("bitsandbytes==" in x and "--platform manylinux_2_24_x86_64" in x for x in lines)
    assert all("--python-version 3.12" in x for x in lines)
