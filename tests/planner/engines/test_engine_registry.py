"""The engine registry loads an engine package on first use and answers as if all were loaded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from planner.engines import default_engine, engine_ids, get_engine
from planner.formats import parse_format
from planner.memory.estimate import SettingsError

ROOT = Path(__file__).resolve().parents[3]


def _fresh(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_ollama_is_its_own_engine_even_when_asked_for_first():
    assert _fresh("from planner.engines import get_engine; print(get_engine('Ollama').id)") == "ollama"
    assert _fresh("from planner.engines import get_engine; print(get_engine('llamacpp').id)") == "llama.cpp"


def test_a_gguf_default_loads_only_llama_cpp():
    code = (
        "import sys\n"
        "from planner.engines import default_engine\n"
        "from planner.formats import parse_format\n"
        "print(default_engine(parse_format('q4_k_m')).id)\n"
        "print(sorted({m.split('.')[2] for m in sys.modules if m.startswith('planner.engines.') and m.count('.') >= 3}))\n"
    )
    engine, loaded = _fresh(code).splitlines()
    assert engine == "llama.cpp"
    assert eval(loaded) == ["llamacpp"]


def test_menu_order_does_not_depend_on_what_loaded_first():
    code = (
        "from planner.engines import engine_ids, get_engine\n"
        "get_engine('trtllm'); get_engine('llama.cpp')\n"
        "print(engine_ids())\n"
    )
    assert eval(_fresh(code)) == engine_ids()
    assert engine_ids() == ["transformers", "vllm", "llama.cpp", "mlx", "ollama", "sglang", "trtllm"]


def test_defaults_and_unknown_ids():
    assert default_engine(parse_format("bf16")).id == "transformers"
    assert default_engine(parse_format("mlx-4bit")).id == "mlx"
    with pytest.raises(SettingsError, match=r"valid engines: transformers, vllm, llama\.cpp"):
        get_engine("tgi")
