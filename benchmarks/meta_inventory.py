"""Benchmark: a new architecture's tensor inventory through transformers on the meta device, then the cache.

Run: ``python -m benchmarks.meta_inventory [--rounds 3]``.

For each model, in fresh interpreters with an empty inventory cache (a temporary folder):

* first: ``describe(config)`` builds the model with transformers on the meta device and
  caches it; printed as the time to import torch and transformers (once per process) and
  the build itself (class lookup, meta-device build, checkpoint names, grouping, roles);
* warm build: the same in a process that has run :func:`planner.model.inventory.meta.start_warm_up`
  (transformers loaded by building one small Llama, as the app's server does in the background at
  start), as in the app, the verifier or a long-running session: what each new architecture costs
  there; the warm-up's own time is printed once;
* cached: ``describe(config)`` in a new interpreter, which reads the cache and imports
  neither torch nor transformers (checked: ``torch`` not in ``sys.modules``).

Each figure is wall seconds with the process's CPU seconds in brackets (on a shared machine the
CPU time is the better guide to an idle one).

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
t0, c0 = time.perf_counter(), time.process_time()
import torch, transformers
t1, c1 = time.perf_counter(), time.process_time()
from planner.model.inventory import describe
spec = describe(json.loads(sys.argv[1]), "bench", meta=True)
t2, c2 = time.perf_counter(), time.process_time()
print(json.dumps({"import": t1 - t0, "build": t2 - t1, "import_cpu": c1 - c0, "build_cpu": c2 - c1,
                  "source": spec.inventory_source.value, "params": spec.total_parameters,
                  "detail": spec.inventory_detail}))
"""
_WARM = """
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
from planner.model.inventory import describe, meta
meta.start_warm_up().join()  # what the app's server does at start (in the background)
out = {"warm-up": {"warm": time.perf_counter() - t0, "warm_cpu": time.process_time() - c0}}
for name, config in json.loads(sys.argv[1]).items():
    t1, c1 = time.perf_counter(), time.process_time()
    describe(config, name, meta=True)
    out[name] = {"warm": time.perf_counter() - t1, "warm_cpu": time.process_time() - c1}
print(json.dumps(out))
"""
_CACHED = """
import json, sys, time
from planner.model.inventory import describe
t1, c1 = time.perf_counter(), time.process_time()
spec = describe(json.loads(sys.argv[1]), "bench")
t2, c2 = time.perf_counter(), time.process_time()
print(json.dumps({"load": t2 - t1, "load_cpu": c2 - c1, "torch": "torch" in sys.modules,
                  "detail": spec.inventory_detail}))
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
    os.environ.pop("VRAM_PLANNER_META_WARMUP", None)  # the warm runs measure the warm-up itself
    print(
        f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall s, CPU s in brackets)"
    )
    configs = _configs()
    warm: list[dict] = []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as cache:
            warm.append(
                _run(_WARM, configs, dict(os.environ, VRAM_PLANNER_CACHE_DIR=cache, PYTHONWARNINGS="ignore"))
            )
    print(f"warm-up (background thread at the app's start): {_median(warm, 'warm-up')}")
    head = f"{'model':<36} {'import torch+tf':>16} {'first build':>14} {'warm build':>14} {'cached':>14}"
    print(head + "  torch in cached run")
    for name, config in configs.items():
        first, cached = [], []
        for _ in range(args.rounds):
            with tempfile.TemporaryDirectory() as cache:
                env = dict(os.environ, VRAM_PLANNER_CACHE_DIR=cache, PYTHONWARNINGS="ignore")
                first.append(_run(_FIRST, config, env))
                cached.append(_run(_CACHED, config, dict(env, VRAM_PLANNER_META="0")))
        assert all(c["detail"].endswith("(cached)") for c in cached)

        print(
            f"{name:<36} {_med(first, 'import'):>16} {_med(first, 'build'):>14} "
            f"{_median(warm, name):>14} {_med(cached, 'load'):>14}  "
            f"{any(c['torch'] for c in cached)}"
        )


def _med(rows: list[dict], key: str) -> str:
    """Median wall seconds with median CPU seconds in brackets."""
    return f"{statistics.median(r[key] for r in rows):.2f} [{statistics.median(r[key + '_cpu'] for r in rows):.2f}]"


def _median(warm: list[dict], name: str) -> str:
    return _med([w[name] for w in warm], "warm")


if __name__ == "__main__":
    main()
