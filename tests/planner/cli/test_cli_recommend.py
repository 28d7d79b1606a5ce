"""``python -m planner recommend``: text and JSON output, filters, and bad input (one line, status 2)."""

import json
import subprocess
import sys

import pytest

from planner.cli import main


def _json(capsys, *args):
    assert main(["recommend", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_contract(capsys):
    out = _json(capsys, "--vram", "24GiB", "--context", "8192", "--top", "3")
    assert out["gpu"] == {
        "name": "custom 24.00 GiB",
        "count": 1,
        "vram": 24 * 2**30,
        "source": "custom",
        "label": "GPU with 24.00 GiB (memory given)",
    }
    assert (out["context"], out["batch"], out["engine"], out["benchmark"]) == (8192, 1, None, "mmlu")
    assert len(out["ranked"]) == 3 and out["ranked_total"] > 3
    top = out["ranked"][0]
    # By hand (tests/planner/recommend/test_ranking.py::test_24_gib): gemma-3-27b-it AWQ, 78.6 x 0.9971.
    assert (top["rank"], top["model"], top["format"]) == (1, "google/gemma-3-27b-it", "awq-int4")
    assert top["expected_quality"] == pytest.approx(78.37, abs=0.01)
    assert out["best"] == top
    for key in ("weights", "kv_cache", "activations", "overhead", "required", "usable", "headroom", "host"):
        assert isinstance(top["memory"][key], int), key
    assert top["score"]["source"].startswith("https://") and top["retention"]["evidence"]
    assert all(u["rank"] is None and u["unranked_reason"] for u in out["unranked"])
    assert {p["bit_width"] for p in out["by_bit_width"]} == {16, 8, 6, 5, 4, 3, 2}
    assert out["trade_off"]["larger_four_bit"]["model"] == "google/gemma-3-27b-it"
    assert out["assumptions"] and isinstance(out["elapsed_s"], float)
    assert all(k == k.lower() and " " not in k for k in _keys(out))


def _keys(value):
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _keys(v)
    elif isinstance(value, list):
        for v in value:
            yield from _keys(v)


def test_json_with_a_catalog_gpu_has_speed(capsys):
    out = _json(capsys, "--gpu", "4090", "--top", "1")
    speed = out["ranked"][0]["speed"]
    assert speed["estimate"] is True and speed["decode_tokens_per_s"] > 0
    assert out["gpu"]["source"] == "catalog"


def test_filters_and_engine(capsys):
    out = _json(
        capsys, "--vram", "16GiB", "--engine", "vllm", "--family", "llama,gemma3", "--license", "llama3.1,gemma",
        "--min-context", "32768", "--top", "50",
    )  # fmt: skip
    rows = out["ranked"] + out["unranked"]
    assert rows and {r["engine"] for r in rows} == {"vllm"}
    assert {r["family"] for r in rows} <= {"llama", "gemma3"}
    assert {r["license"] for r in rows} <= {"llama3.1", "gemma"}
    assert all(r["max_position_embeddings"] >= 32768 for r in rows)
    assert out["filters"] == {
        "families": ["llama", "gemma3"],
        "licenses": ["llama3.1", "gemma"],
        "min_context": 32768,
    }


def test_text_output(capsys):
    assert main(["recommend", "--vram", "12GiB", "--top", "5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("What can I run on GPU with 12.00 GiB (memory given), context 8,192 x batch 1")
    assert "needs GiB" in out and "headroom GiB" in out and " GB" not in out
    first = next(line for line in out.splitlines() if line.strip().startswith("1 "))
    assert "google/gemma-3-12b-it" in first and "q4_k_m" in first  # by hand: test_ranking.py::test_12_gib
    assert "best pick per bit width:" in out and "16-bit vs a larger model at 4-bit:" in out
    assert "evidence for #1 google/gemma-3-12b-it q4_k_m:" in out
    assert "https://" in out and "assumptions:" in out
    assert "left out: microsoft/Phi-3-mini-4k-instruct: max_position_embeddings 4,096" in out
    assert "... " in out and "more ranked" in out


def test_mmlu_pro(capsys):
    out = _json(capsys, "--vram", "24GiB", "--benchmark", "mmlu-pro", "--top", "1")
    assert out["best"]["model"] == "Qwen/Qwen2.5-32B-Instruct" and out["benchmark_label"] == "MMLU-Pro"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "recommend needs a GPU"),
        (["--vram", "24"], "give the unit"),
        (["--vram", "lots"], "lots"),
        (["--vram", "0GiB"], "0 bytes"),
        (["--gpu", "no-such-card-xyz"], "no-such-card-xyz"),
        (["--vram", "24GiB", "--family", "nope"], "families:"),
        (["--vram", "24GiB", "--license", "nope"], "licenses:"),
        (["--vram", "24GiB", "--engine", "nope"], "valid engines"),
        (["--vram", "24GiB", "--formats", "bogus"], "valid formats"),
        (["--vram", "24GiB", "--engine", "vllm", "--formats", "q4_k_m"], "loads none of the formats"),
        (["--vram", "24GiB", "--gpus", "100"], "between 1 and 64"),
        (["--vram", "24GiB", "--context", "99999999"], "context must be between"),
        (["--vram", "24GiB", "--benchmark", "x"], "unknown benchmark 'x'; valid: mmlu, mmlu-pro"),
        (["--live", "--vram", "24GiB"], "--live: a live reading uses this machine's GPUs"),
    ],
)
def test_bad_input_is_one_line_and_status_2(args, message, capsys):
    assert main(["recommend", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [["--top", "0"], ["--context", "abc"], ["--batch", "-1"]])
def test_bad_numbers_are_argparse_errors(args, capsys):
    assert main(["recommend", "--vram", "24GiB", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: argument --") and len(err.strip().splitlines()) == 1


def test_live_without_nvml_says_so():
    result = subprocess.run(
        [sys.executable, "-m", "planner", "recommend", "--live"], capture_output=True, text=True, timeout=120
    )
    if result.returncode == 0:  # a machine with an NVIDIA GPU plans against its free memory
        assert "live NVML" in result.stdout
    else:
        assert (
            result.returncode == 2
            and result.stderr.startswith("error: ")
            and "Traceback" not in result.stderr
        )
