"""The code passes ruff's lint and format checks (settings in pyproject.toml)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _ruff(*args):
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_lint():
    result = _ruff("check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format():
    result = _ruff("format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_core_never_imports_torch_or_streamlit():
    for path in (ROOT / "planner").rglob("*.py"):
        text = path.read_text()
        for banned in ("import torch", "from torch", "import streamlit", "from streamlit"):
            assert banned not in text, f"{path} imports {banned.split()[-1]}"
