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
    assert (out["context"], out["batch"], out["engine"], out["benchmark"]) == (8192, 1, None, "mmlu-pro")
    assert len(out["ranked"]) == 3 and out["ranked_total"] > 3
    top = out["ranked"][0]
    # By hand (tests/planner/recommend/test_ranking.py::test_24_gib): Qwen3.5-27B Q5_K_M, 86.1 at 100%.
    assert (top["rank"], top["model"], top["format"]) == (1, "Qwen/Qwen3.5-27B", "q5_k_m")
    assert top["expected_quality"] == pytest.approx(86.1)
    assert out["best"] == top
    for key in ("weights", "kv_cache", "activations", "overhead", "required", "usable", "headroom", "host"):
        assert isinstance(top["memory"][key], int), key
    assert top["score"]["source"].startswith("https://") and top["retention"]["evidence"]
    assert all(u["rank"] is None and u["unranked_reason"] for u in out["unranked"])
    assert {p["bit_width"] for p in out["by_bit_width"]} == {16, 8, 6, 5, 4, 3, 2}
    for entry in out["by_bit_width"]:  # each width names its largest fitting model, ranked or not
        largest = entry["largest"]
        assert {"model", "format", "parameters", "required", "max_context"} <= set(largest)
        assert isinstance(largest["required"], int) and largest["max_context"] >= 8192
    four = next(e for e in out["by_bit_width"] if e["bit_width"] == 4)
    assert (four["largest"]["model"], four["largest"]["max_context"]) == (
        "ByteDance-Seed/Seed-OSS-36B-Instruct",
        10240,
    )
    assert out["trade_off"]["larger_four_bit"]["model"] == "Qwen/Qwen3.5-27B"
    assert [t["larger_wins"] for t in out["trade_offs"]] == [True, False, True]
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
        "bit_widths": [],
        "modalities": [],
        "architectures": [],
    }


def test_readme_example_returns_a_ranked_answer(capsys):
    """The README's example used to answer best: null; Qwen3.5-27B (MMLU-Pro 86.1, Qwen's card) in AWQ int4
    fits 24 GiB under vLLM (0.9 x 24 GiB usable): 86.1 x 0.9971 (the AWQ rows nearest 27.4B on a log scale:
    70.55B 99.71, 13.0B 99.17, 69.0B 100.17 -> median 99.71%) = 85.85."""
    out = _json(capsys, "--vram", "24GiB", "--engine", "vllm", "--family", "qwen")
    assert out["best"] is not None and out["ranked_total"] > 0
    assert (out["best"]["model"], out["best"]["format"]) == ("Qwen/Qwen3.5-27B", "awq-int4")
    assert out["best"]["expected_quality"] == pytest.approx(86.1 * 0.9971, abs=0.01)


def test_new_filters_sort_and_hub_models(capsys):
    out = _json(
        capsys,
        "--vram",
        "24GiB",
        "--bits",
        "4,16",
        "--modality",
        "text",
        "--arch",
        "dense",
        "--sort",
        "headroom",
    )
    assert out["filters"]["bit_widths"] == [4, 16] and out["sort"] == "headroom"
    rows = out["ranked"] + out["unranked"]
    assert {r["bit_width"] for r in rows} <= {4, 16} and {r["architecture"] for r in rows} == {"dense"}
    assert [e["bit_width"] for e in out["by_bit_width"]] == [16, 4]
    headroom = [r["memory"]["headroom"] for r in out["ranked"]]
    assert headroom == sorted(headroom, reverse=True)


def test_bad_bit_width_is_one_line(capsys):
    assert main(["recommend", "--vram", "24GiB", "--bits", "four"]) == 2
    err = capsys.readouterr().err
    assert "--bits" in err and "not a bit width" in err and len(err.strip().splitlines()) == 1


def test_text_output(capsys):
    assert main(["recommend", "--vram", "12GiB", "--top", "5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("What can I run on GPU with 12.00 GiB (memory given), context 8,192 x batch 1")
    assert "needs GiB" in out and "headroom GiB" in out and " GB" not in out
    first = next(line for line in out.splitlines() if line.strip().startswith("1 "))
    assert "Qwen/Qwen3.5-4B" in first and "q5_k_m" in first  # test_ranking::test_12_gib
    assert "best pick per bit width:" in out and "16-bit vs a larger model at 4-bit:" in out
    assert "largest model per bit width" in out and "4-bit vs a larger model at 2-bit:" in out
    assert "evidence for #1 Qwen/Qwen3.5-4B q5_k_m:" in out
    assert "https://" in out and "assumptions:" in out
    assert "left out: microsoft/Phi-3-mini-4k-instruct: max_position_embeddings 4,096" in out
    assert "... " in out and "more ranked" in out


def test_mmlu(capsys):
    out = _json(capsys, "--vram", "12GiB", "--benchmark", "mmlu", "--top", "1")
    # By hand: test_ranking.py::test_12_gib_on_mmlu, Qwen3-14B Q4_K_M 81.05 x 0.99605.
    assert out["best"]["model"] == "Qwen/Qwen3-14B" and out["benchmark_label"] == "MMLU (5-shot)"


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
        (["--vram", "24GiB", "--modality", "audio"], "unknown modality"),
        (["--vram", "24GiB", "--sort", "price"], "unknown sort"),
        (["--vram", "24GiB", "--bits", "7"], "no format tried is 7-bit"),
        (["--vram", "24GiB", "--engine", "nope"], "valid engines"),
        (["--vram", "24GiB", "--formats", "bogus"], "valid formats"),
        (["--vram", "24GiB", "--engine", "vllm", "--formats", "q4_k_m"], "loads none of the formats"),
        (["--vram", "24GiB", "--gpus", "100"], "between 1 and 64"),
        (["--vram", "24GiB", "--context", "99999999"], "context must be between"),
        (["--vram", "24GiB", "--benchmark", "x"], "unknown benchmark 'x'; valid: mmlu-pro, mmlu"),
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


def _readme_recommend_examples():
    import re
    import shlex
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    out = []
    for line in readme.splitlines():
        match = re.match(r"\s*python -m planner recommend (.*?)\s*(#.*)?$", line)
        if match:
            out.append(shlex.split(match.group(1)))
    return out


@pytest.mark.parametrize("args", _readme_recommend_examples(), ids=" ".join)
def test_every_readme_example_returns_a_ranked_answer(args, capsys):
    assert args, "the README shows recommend examples"
    extra = [] if "--json" in args else ["--json"]
    assert main(["recommend", *args, *extra]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["best"] is not None and out["best"]["rank"] == 1 and out["ranked_total"] > 0
