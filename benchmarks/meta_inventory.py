"""Benchmark: a new architecture's tensor inventory through transformers on the meta device, then the cache.

Run: ``python -m benchmarks.meta_inventory [--rounds 3]``.

For each model, in fresh interpreters with an empty inventory cache (a temporary folder):

* first: ``describe(config)`` builds the model with transformers on the meta device and
  caches it; printed as the time to import torch and transformers (once per process) and
  the build itself (class lookup, meta-device build, checkpoint names, grouping, roles);
* cached: ``describe(config)`` in a new interpreter, which reads the cache and imports
  neither torch nor transformers (checked: ``torch`` not in ``sys.modules``).

Configs: the catalog's DeepSeek-R1 (671B MoE), Qwen3-235B-A22B and Gemma 3 12B (image-text,
SigLIP tower), and transformers' own default configs of types without a hand-written builder.
Prints figures (median of ``--rounds``); asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_FIRST = """
import json, sys, time
t0 = time.perf_counter()
import torch, transformers
t1 = time.perf_counter()
from planner.model.inventory import describe
spec = describe(json.loads(sys.argv[1]), "bench", meta=True)
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "build": t2 - t1, "source": spec.inventory_source.value,
                  "params": spec.total_parameters, "detail": spec.inventory_detail}))
"""
_CACHED = """
import json, sys, time
t0 = time.perf_counter()
from planner.model.inventory import describe
t1 = time.perf_counter()
spec = describe(json.loads(sys.argv[1]), "bench")
t2 = time.perf_counter()
print(json.dumps({"load": t2 - t1, "torch": "torch" in sys.modules, "detail": spec.inventory_detail}))
"""


def _configs() -> dict[str, dict]:
    from transformers import AutoConfig

    from planner.catalog import load_catalog

    catalog = load_catalog()
    out = {
        mid: catalog[mid].config
        for mid in ("deepseek-ai/DeepSeek-R1", "Qwen/Qwen3-235B-A22B", "google/gemma-3-12b-it")
    }
    for model_type in ("olmo2", "starcoder2", "cohere2"):
        out[f"{model_type} (transformers default)"] = AutoConfig.for_model(model_type).to_dict() | {
            "model_type": model_type
        }
    return out


def _run(script: str, config: dict, env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", script, json.dumps(config)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if out.returncode:
        raise SystemExit(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"{'model':<36} {'import s':>9} {'build s':>8} {'cached s':>9}  torch in cached run")
    for name, config in _configs().items():
        first, cached = [], []
        for _ in range(args.rounds):
            with tempfile.TemporaryDirectory() as cache:
                env = dict(os.environ, VRAM_PLANNER_CACHE_DIR=cache, PYTHONWARNINGS="ignore")
                first.append(_run(_FIRST, config, env))
                cached.append(_run(_CACHED, config, dict(env, VRAM_PLANNER_META="0")))
        assert all(c["detail"].endswith("(cached)") for c in cached)
        print(
            f"{name:<36} {statistics.median(r['import'] for r in first):>9.2f} "
            f"{statistics.median(r['build'] for r in first):>8.2f} "
            f"{statistics.median(r['load'] for r in cached):>9.3f}  {any(c['torch'] for c in cached)}"
        )


if __name__ == "__main__":
    main()
