"""Benchmark: how fast ``recommend`` answers, in the CLI and in the What can I run page.

Run: ``python -m benchmarks.recommend [--runs 5] [--no-page]``.

* CLI: ``python -m planner recommend --gpu 4090 --json`` as a fresh process (everything cold: imports,
  the catalog, every estimate), ``--runs`` times; prints the median wall time and the median CPU time
  (user + system) of the child. On a shared machine the CPU time is the steadier figure.
* Core: :func:`planner.recommend.recommend` in this process, cold (estimate cache cleared) and warm
  (the same catalog on another budget), for an RTX 3060, an RTX 4090, 2 x RTX 3090 and an H100 at
  8,192 and 32,768 tokens; with the share of fitting pairs that are ranked.
* Page: the What can I run page in Streamlit's ``AppTest`` (the script as the server runs it, sidebar
  included, no browser): one warm-up run, then ``--runs`` timed reruns with the same inputs (what a
  widget change that keeps the ranking, or a page switch, costs), and reruns after changing the
  context in the URL (a new ranking: the spinner case).

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
PAGE = "ui/pages/what_can_i_run.py"
BUDGETS = (
    ("RTX 3060", "rtx-3060", 1),
    ("RTX 4090", "rtx-4090", 1),
    ("2 x RTX 3090", "rtx-3090", 2),
    ("H100", "h100-sxm", 1),
)
CONTEXTS = (8192, 32768)


def cli(runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of ``runs`` fresh ``python -m planner recommend --gpu 4090 --json`` processes."""
    walls, cpus = [], []
    cmd = [sys.executable, "-m", "planner", "recommend", "--gpu", "4090", "--json"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, env=env)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return walls, cpus


def core() -> list[tuple[str, int, float, float, int, int]]:
    """``(budget, context, cold s, warm s, ranked, fitting)`` for each budget and context."""
    from planner.fit import budget_from_gpu
    from planner.memory.estimate import RunSettings
    from planner.recommend import recommend
    from planner.recommend.ranking import _estimate

    out = []
    for label, gpu, count in BUDGETS:
        for context in CONTEXTS:
            _estimate.cache_clear()
            budget = budget_from_gpu(gpu, count)
            t0 = time.perf_counter()
            result = recommend(budget, RunSettings(context=context))
            cold = time.perf_counter() - t0
            t0 = time.perf_counter()
            recommend(budget, RunSettings(context=context), sort="speed")
            warm = time.perf_counter() - t0
            out.append((label, context, cold, warm, len(result.ranked), len(result.candidates)))
    return out


def page(runs: int) -> tuple[list[float], list[float]]:
    """Seconds of ``runs`` reruns with the same inputs, and of ``runs`` reruns each with a new context."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=600)
    at.query_params["gpu"] = "rtx-4090"
    at.switch_page(PAGE)
    at.run()
    if at.exception:
        raise RuntimeError(at.exception[0].value)
    same = []
    for _ in range(runs):
        t0 = time.perf_counter()
        at.run()
        same.append(time.perf_counter() - t0)
    changed = []
    for context in (4096, 16384, 2048, 65536, 1024)[:runs]:
        at.select_slider(key="context").set_value(context)
        t0 = time.perf_counter()
        at.run()
        changed.append(time.perf_counter() - t0)
    return same, changed


def _stats(values: list[float]) -> str:
    return f"median {statistics.median(values):.3f} s (fastest {min(values):.3f}, slowest {max(values):.3f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-page", action="store_true", help="skip the AppTest page figures")
    args = parser.parse_args(argv)
    walls, cpus = cli(args.runs)
    print(f"CLI recommend --gpu 4090 --json, fresh process: wall {_stats(walls)}; CPU {_stats(cpus)}")
    print("core recommend() (cold = estimate cache cleared; warm = same model x format grid, another sort):")
    for label, context, cold, warm, ranked, fitting in core():
        share = 100 * ranked / fitting if fitting else 0.0
        print(
            f"  {label:<13} {context:>6} tokens: cold {cold:.3f} s, warm {warm:.3f} s; "
            f"{ranked}/{fitting} fitting pairs ranked ({share:.1f}%)"
        )
    if not args.no_page:
        same, changed = page(args.runs)
        print(f"What can I run page (AppTest), rerun with the same inputs: {_stats(same)}")
        print(f"What can I run page (AppTest), rerun after a new context: {_stats(changed)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
