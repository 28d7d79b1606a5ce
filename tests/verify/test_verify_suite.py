"""Suites: the file format, the runner (a fake child here), the outputs, and the H100 suite itself."""

import json

import pytest

from planner.catalog import load_catalog
from verify.backends import backend_for, skip_reason
from verify.config import ConfigError
from verify.run import predict
from verify.source import resolve
from verify.suite import SUITES_DIR, load_suite, parse_suite, run_suite, select

GIB = 1 << 30
H100 = SUITES_DIR / "h100.json"


def suite(**overrides):
    data = {
        "name": "t",
        "defaults": {"device": "cpu", "decode": 2},
        "runs": [
            {"id": "a", "model": "Qwen/Qwen3-8B", "format": "bf16", "context": 64},
            {"id": "b", "model": "Qwen/Qwen3-8B", "format": "bnb-nf4", "context": 64},
        ],
    }
    return parse_suite(data | overrides)


def test_parse_errors():
    with pytest.raises(ConfigError, match="unknown suite key"):
        suite(timeout=3)
    with pytest.raises(ConfigError, match="at least one run"):
        suite(runs=[])
    with pytest.raises(ConfigError, match=r"run 0 \(x\): decode"):
        suite(runs=[{"id": "x", "model": "m", "format": "bf16", "context": 2}])
    dup = {"id": "a", "model": "m", "format": "bf16"}
    with pytest.raises(ConfigError, match="unique: a"):
        suite(runs=[dup, dup])


def test_select_by_id_or_index():
    s = suite()
    assert [r.id for r in select(s, "b").runs] == ["b"]
    assert [r.id for r in select(s, "0,b").runs] == ["a", "b"]
    with pytest.raises(ConfigError, match="no run with id z"):
        select(s, "z")


def test_runner_continues_past_failures_and_writes_outputs(tmp_path):
    seen = []

    def fake(config, record_path, log_path, timeout, dry_run, python):
        seen.append((config.id, config.device, dry_run))
        status = "error" if config.id == "a" else "ok"
        return {
            "config": config.to_dict(),
            "status": status,
            "reason": "crashed" if status == "error" else None,
        }

    records = run_suite(suite(), tmp_path, device="cpu", dry_run=True, progress=False, runner=fake)
    assert [r["status"] for r in records] == ["error", "ok"]
    assert seen == [("a", "cpu", True), ("b", "cpu", True)]
    lines = (tmp_path / "records.jsonl").read_text().splitlines()
    assert [json.loads(x)["config"]["id"] for x in lines] == ["a", "b"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["statuses"] == {"error": 1, "ok": 1} and summary["dry_run"] is True
    assert "| a | Qwen/Qwen3-8B | bf16 | 64 | 1 | error: crashed |" in (tmp_path / "summary.md").read_text()
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["00_a.json", "01_b.json"]


def test_spent_budget_skips_with_the_prediction(tmp_path):
    def never(*args):
        raise AssertionError("no run should start")

    records = run_suite(suite(), tmp_path, budget_s=0, progress=False, runner=never)
    assert {r["status"] for r in records} == {"skipped"}
    assert "budget" in records[0]["reason"] and records[0]["predicted"]["weights"] > 0


def test_a_child_that_times_out_becomes_an_error(tmp_path):
    config = suite().runs[0]
    from verify.suite import run_one

    record = run_one(config, tmp_path / "r.json", tmp_path / "r.log", 0.01, False, "python3")
    assert record["status"] == "error" and record["reason"].startswith("timed out after 0.01 s")


# --- the H100 suite ------------------------------------------------------------------------------


def test_h100_suite_covers_the_issue():
    s = load_suite(H100)
    runs = s.runs
    assert len(runs) >= 20 and s.budget_s <= 480
    families = {load_catalog()[r.model].family for r in runs}
    assert {"llama", "qwen2", "qwen3", "mistral", "gemma3", "phi3", "qwen3_moe"} <= families
    formats = {r.format for r in runs}
    assert {"bf16", "bnb-int8", "bnb-nf4", "bnb-fp4", "bnb-nf4-dq", "bnb-fp4-dq", "fp8"} <= formats
    assert formats & {"hqq-int4", "hqq-int8"}
    assert min(r.context for r in runs) <= 1024 and max(r.context for r in runs) >= 32768
    assert {r.batch for r in runs} >= {1, 8}
    sizes = [load_catalog()[r.model].spec().total_parameters for r in runs]
    assert min(sizes) < 1e9 and max(sizes) >= 14e9
    assert any(load_catalog()[r.model].spec().is_moe for r in runs)
    assert all(r.device == "cuda" and r.weights == "random" for r in runs)


def test_h100_suite_predictions_all_fit_but_the_one_meant_to_run_out_of_memory():
    for r in load_suite(H100).runs:
        predicted, _ = predict(r, resolve(r.model))
        assert (predicted["total"] > 80 * GIB) == r.id.endswith("-oom"), r.id


@pytest.mark.slow
def test_every_h100_entry_builds_full_size_on_meta():
    """transformers' class and quantizer for every suite model at full size, at no memory cost."""
    pytest.importorskip("transformers")
    from verify.build import build_random

    for r in load_suite(H100).runs:
        backend = backend_for(r.format)
        if skip_reason(backend, "meta"):
            continue  # hqq is not installed here
        built = build_random(resolve(r.model).config, backend, "meta")
        assert built.parameters == load_catalog()[r.model].spec().total_parameters, r.id
        if r.format != "bf16":
            assert built.quantized and built.kept_linear == ("lm_head",), r.id
