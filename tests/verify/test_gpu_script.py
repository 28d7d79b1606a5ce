"""verify/gpu/run_suite.sh end to end on a CPU machine, as a dry run: the one GPU run must not fail on a typo."""

import json
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "verify" / "gpu" / "run_suite.sh"
# one bitsandbytes, one FP8 (weights only on the CPU) and one MoE entry of the real suite
SUBSET = "qwen2.5-0.5b-nf4-4k-b8,llama3.1-8b-fp8block-4k-b1,qwen3-30b-a3b-nf4-4k-b2"


def _wheel(folder: Path) -> Path:
    """A minimal pure-Python wheel, to check the carried-wheel install without a network."""
    path = folder / "verify_probe_pkg-0.1-py3-none-any.whl"
    info = "verify_probe_pkg-0.1.dist-info"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("verify_probe_pkg/__init__.py", "VALUE = 1\n")
        z.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: verify-probe-pkg\nVersion: 0.1\n")
        z.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        z.writestr(f"{info}/RECORD", "")
    return path


def _script(*args, timeout=600):
    return subprocess.run(
        ["bash", str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.slow
def test_dry_run_end_to_end(tmp_path):
    pytest.importorskip("bitsandbytes")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels)
    out = tmp_path / "out"
    result = _script("--dry-run", "--wheels", str(wheels), str(out), "--", "--only", SUBSET)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "installing 1 wheel(s)" in result.stdout
    files = sorted(p.name for p in out.iterdir())
    assert files == [
        "environment.json",
        "records.jsonl",
        "runs.tar.gz",
        "suite.log",
        "summary.json",
        "summary.md",
    ]
    records = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    assert [r["config"]["id"] for r in records] == SUBSET.split(",")
    for r in records:
        assert r["status"] == "dry-run", r["reason"]
        assert r["dry_run"]["meta"]["status"] == "ok"
        tiny = r["dry_run"]["tiny"]
        assert tiny["status"] == "ok" and tiny["error"]["weights"]["abs"] == 0
    with tarfile.open(out / "runs.tar.gz") as tar:
        names = tar.getnames()
    assert "runs/00_qwen2.5-0.5b-nf4-4k-b8.json" in names and "runs/02_qwen3-30b-a3b-nf4-4k-b2.log" in names
    assert "3 dry-run" in (out / "suite.log").read_text()


def test_bad_arguments_exit_2(tmp_path):
    assert _script().returncode == 2
    assert _script("--bogus", str(tmp_path)).returncode == 2
    assert _script("--suite", str(tmp_path / "none.json"), str(tmp_path)).returncode == 2
    assert _script("--wheels", str(tmp_path), str(tmp_path / "o")).returncode == 2  # no wheels there
