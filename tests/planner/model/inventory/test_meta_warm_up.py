"""The background warm-up of transformers (for the app's server): started once, off where it must be,
and a build asked for meanwhile waits for it and stays exact."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from planner.model.inventory import meta
from tests.planner.model.inventory.test_meta_inventory import ROOT, STARCODER2  # not the warm-up's Llama
from verify.meta_count import transformers_parameter_count

_SCRIPT = """
import json, sys
from pathlib import Path
from planner.model.inventory import describe, meta
thread = meta.start_warm_up()
again = meta.start_warm_up()
spec = describe(json.loads(sys.argv[1]), "sc2")  # asked while the warm-up runs: waits for it
print(json.dumps({
    "started": thread is not None, "once": again is thread, "done": not thread.is_alive(),
    "params": spec.total_parameters, "source": spec.inventory_source.value,
    "modeling_loaded": "transformers.modeling_utils" in sys.modules,
    "cached": sorted(p.name for p in Path(sys.argv[2]).rglob("*.json")),
}))
"""


def test_the_warm_up_runs_once_and_a_build_meanwhile_waits_and_stays_exact(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in (meta.META_ENV, meta.WARM_UP_ENV)}
    env["VRAM_PLANNER_CACHE_DIR"] = str(tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, json.dumps(STARCODER2), str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout)
    assert got["started"] and got["once"] and got["done"] and got["modeling_loaded"]
    assert got["source"] == "transformers meta device"
    assert got["params"] == transformers_parameter_count(STARCODER2)
    assert len(got["cached"]) == 1  # StarCoder 2's inventory only: the warm-up model is never cached


@pytest.mark.parametrize("env", [{meta.WARM_UP_ENV: "0"}, {meta.META_ENV: "0"}])
def test_no_warm_up_where_it_is_turned_off(monkeypatch, env):
    monkeypatch.setattr(meta, "_warm_up", None)
    monkeypatch.delenv(meta.WARM_UP_ENV, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert meta.start_warm_up() is None
    assert meta._warm_up is None


def test_no_warm_up_without_torch(monkeypatch):
    monkeypatch.setattr(meta, "_warm_up", None)
    monkeypatch.delenv(meta.WARM_UP_ENV, raising=False)
    monkeypatch.setattr(meta, "meta_enabled", lambda: False)  # as on the hosted page (no torch installed)
    assert meta.start_warm_up() is None
