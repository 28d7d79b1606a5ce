"""The architecture registry's module index and its lazy loading."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from planner.model.architectures import _REGISTRY, MODULE_OF, builder_for, load_all, supported_architectures

ROOT = Path(__file__).resolve().parents[4]


def test_the_index_names_the_module_that_registers_each_type():
    load_all()
    registered = {t: fn.__module__.rsplit(".", 1)[1] for t, fn in _REGISTRY.items()}
    assert registered == MODULE_OF, "update MODULE_OF in planner/model/architectures/__init__.py"


def test_supported_architectures_lists_every_registered_type():
    assert supported_architectures() == sorted(MODULE_OF)


def test_unknown_types_have_no_builder():
    assert builder_for("no_such_model_type") is None


def test_a_llama_config_loads_only_its_own_family():
    code = (
        "import sys\n"
        "from planner.model import model_from_config\n"
        "model_from_config({'model_type': 'llama', 'hidden_size': 64, 'intermediate_size': 128,\n"
        "    'num_hidden_layers': 2, 'num_attention_heads': 4, 'num_key_value_heads': 2, 'vocab_size': 100})\n"
        "print(sorted(m.rsplit('.', 1)[1] for m in sys.modules if m.startswith('planner.model.architectures.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = set(eval(out.stdout))
    assert "llama" in loaded
    assert not loaded & {"deepseek", "gemma4", "qwen3_next", "nemotron_h"}
