"""The meta-device build defers optional packages transformers imports for features it never uses."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = """
import sys
from verify.meta_count import transformers_parameter_count
n = transformers_parameter_count({"model_type": "llama", "hidden_size": 64, "intermediate_size": 96,
                                  "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 300})
print(n, "hqq.core.quantize" in sys.modules, "scipy.optimize" in sys.modules)
import transformers.cache_utils as cu
# the deferred names still work: the real modules load on first use
print(cu.HQQQuantizer.quantize.__qualname__, "hqq.core.quantize" in sys.modules)
import numpy as np
import transformers.loss.loss_for_object_detection as det
print(det.linear_sum_assignment(np.eye(2))[1].tolist())
"""


@pytest.mark.skipif(
    importlib.util.find_spec("hqq") is None or importlib.util.find_spec("scipy") is None,
    reason="hqq and scipy are in requirements-test.txt",
)
def test_hqq_and_scipy_load_only_when_used():
    out = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    first, second, third = out.stdout.split("\n")[:3]
    # 2 layers of a tiny Llama, counted by hand: embeddings and head, q/k/v/o, gate/up/down, three norms
    assert first.split() == [
        str(2 * 300 * 64 + 2 * (4 * 64 * 64 + 3 * 64 * 96 + 2 * 64) + 64),
        "False",
        "False",
    ]
    assert second.split() == ["Quantizer.quantize", "True"]
    assert third == "[1, 0]"  # the cheaper assignment of the cost matrix eye(2): off the diagonal


def test_modules_already_imported_are_left_alone():
    import json

    from verify.lean_import import deferred

    with deferred(("json",)):
        assert sys.modules["json"] is json
