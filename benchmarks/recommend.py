"""Benchmark: how fast ``recommend`` answers, in the CLI and in the What can I run page.

Run: ``python -m benchmarks.recommend [--runs 5] [--no-page]``.

* CLI: ``python -m planner recommend --gpu 4090 --json`` as a fresh process (imports, every estimate;
  the bytecode and the catalog cache of specs and weights reports, :mod:`planner.catalog_cache`, written
  by one untimed run first into a temporary cache folder), ``--runs`` times; then ``--runs`` times each
  with an empty cache folder (the first run after an install or a change to the code or the catalog).
  Prints the median wall time and the median CPU time (user + system) of the child. On a shared
  machine the CPU time is the steadier figure.
* Core: :func:`planner.recommend.recommend` in this process, cold (the ranking's caches of estimates,
  fits and speeds and context searches cleared; the formats' per-model weights stay) and warm (the same
  inputs, another sort: what a new sort or filter costs), for an RTX 3060, an RTX 4090, 2 x RTX 3090 and an H100 at
  8,192 and 32,768 tokens, wall and CPU seconds; with the share of fitting pairs that are ranked.
* Page: the What can I run page in Streamlit's ``AppTest`` (the script as the server runs it, sidebar
  included, no browser): one warm-up run, then ``--runs`` timed reruns with the same inputs (what a
  widget change that keeps the ranking, or a page switch, costs), reruns after a new sort or bit-width
  filter (a new ranking of pairs already estimated), and reruns after changing the context (new
  estimates: the spinner case). Wall seconds, and the CPU seconds of this
  process over the rerun (every thread: the script thread and AppTest's own bookkeeping), which on a
  shared machine is the steadier figure for the server's work. Twice: as AppTest runs it (a new
  script cache each run, so both scripts are rewritten and compiled on every rerun) and with one
  script cache for all runs, as a server keeps it.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from planner.disk_cache import CACHE_ENV

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


def cli(runs: int) -> tuple[list[float], list[float], list[float], list[float]]:
    """Wall and CPU seconds of ``runs`` fresh ``python -m planner recommend --gpu 4090 --json`` processes,
    with the catalog cache on disk (written by one untimed run first), then each with an empty cache
    folder (the first run after installing or changing the code or the catalog)."""
    cmd = [sys.executable, "-m", "planner", "recommend", "--gpu", "4090", "--json"]
    with tempfile.TemporaryDirectory(prefix="bench-recommend-") as folder:
        # A user's machine keeps its bytecode and its cache folder: one untimed run writes both.
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "", CACHE_ENV: folder}
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, env=env)
        walls, cpus = _timed(cmd, env, runs)
    cold_walls, cold_cpus = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="bench-recommend-") as folder:
            wall, cpu = _timed(cmd, {**env, CACHE_ENV: folder}, 1)
        cold_walls += wall
        cold_cpus += cpu
    return walls, cpus, cold_walls, cold_cpus


def _timed(cmd: list[str], env: dict[str, str], runs: int) -> tuple[list[float], list[float]]:
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, env=env)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return walls, cpus


def core() -> list[tuple[str, int, float, float, float, float, int, int]]:
    """``(budget, context, cold s, cold CPU s, warm s, warm CPU s, ranked, fitting)`` per budget and context."""
    from planner.fit import budget_from_gpu
    from planner.memory.estimate import RunSettings
    from planner.recommend import recommend
    from planner.recommend.ranking import _estimate, _fit_and_speed, _max_context

    out = []
    for label, gpu, count in BUDGETS:
        for context in CONTEXTS:
            for cached in (_estimate, _fit_and_speed, _max_context):
                cached.cache_clear()
            budget = budget_from_gpu(gpu, count)
            t0, c0 = time.perf_counter(), time.process_time()
            result = recommend(budget, RunSettings(context=context))
            cold, cold_cpu = time.perf_counter() - t0, time.process_time() - c0
            t0, c0 = time.perf_counter(), time.process_time()
            recommend(budget, RunSettings(context=context), sort="speed")
            warm, warm_cpu = time.perf_counter() - t0, time.process_time() - c0
            out.append(
                (label, context, cold, cold_cpu, warm, warm_cpu, len(result.ranked), len(result.candidates))
            )
    return out


def page(runs: int) -> tuple[list[float], ...]:
    """Wall and CPU seconds of ``runs`` reruns with the same inputs, of ``runs`` reruns each with a new sort
    or bit-width filter (a new ranking of pairs already estimated), and of ``runs`` reruns each with a new
    context: ``(same, same CPU, filtered, filtered CPU, changed, changed CPU)``."""
    from streamlit.testing.v1 import AppTest

    from planner.recommend.ranking import _estimate, _fit_and_speed
    from ui import recommendation

    # Each pass starts from the same state: no ranking kept, no estimate of these contexts kept.
    for cached in (recommendation.cached_recommendation, _estimate, _fit_and_speed):
        cached.cache_clear()
    recommendation._DERIVED.clear()
    at = AppTest.from_file(str(APP), default_timeout=600)
    at.query_params["gpu"] = "rtx-4090"
    at.switch_page(PAGE)
    at.run()
    if at.exception:
        raise RuntimeError(at.exception[0].value)
    # The app's first run starts loading transformers in the background (where torch is installed), once
    # per server; its CPU seconds are the start-up's, not a rerun's: let it finish before timing.
    from planner.model.inventory.meta import start_warm_up

    if (warm_up := start_warm_up()) is not None:
        warm_up.join()
    # So does its one collection and freeze after start-up (ui/start_up.py), as a server's first visitor starts it.
    from ui.start_up import freeze_start_up

    if (settle := freeze_start_up(warm_up)) is not None:
        settle.join()
    same, same_cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        at.run()
        same.append(time.perf_counter() - t0)
        same_cpu.append(time.process_time() - c0)
    filtered, filtered_cpu = [], []
    steps = (("rec_sort", "speed"), ("rec_bits", ["4"]), ("rec_sort", "headroom"), ("rec_bits", []))
    steps += (("rec_sort", "quality"),)
    for key, value in steps[:runs]:
        widget = at.selectbox(key=key) if key == "rec_sort" else at.multiselect(key=key)
        widget.set_value(value)
        t0, c0 = time.perf_counter(), time.process_time()
        at.run()
        filtered.append(time.perf_counter() - t0)
        filtered_cpu.append(time.process_time() - c0)
    at.selectbox(key="rec_sort").set_value("quality")
    at.multiselect(key="rec_bits").set_value([])
    at.run()  # back to the default filters (untimed; that ranking is cached) before the new contexts
    changed, changed_cpu = [], []
    for context in (4096, 16384, 2048, 65536, 1024)[:runs]:
        at.select_slider(key="context").set_value(context)
        t0, c0 = time.perf_counter(), time.process_time()
        at.run()
        changed.append(time.perf_counter() - t0)
        changed_cpu.append(time.process_time() - c0)
    return same, same_cpu, filtered, filtered_cpu, changed, changed_cpu


@contextlib.contextmanager
def _server_script_cache(shared: bool) -> Iterator[None]:
    """While active (``shared``), every AppTest run shares one script cache, as a server's sessions do.

    AppTest makes a new ``ScriptCache`` for each run, so it reads, rewrites (``st`` magic) and compiles
    ``app.py`` and the page script on every rerun; a running server does that once per script.
    """
    if not shared:
        yield
        return
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1 import app_test, local_script_runner

    one = ScriptCache()
    saved = app_test.ScriptCache, local_script_runner.ScriptCache
    app_test.ScriptCache = local_script_runner.ScriptCache = lambda: one
    try:
        yield
    finally:
        app_test.ScriptCache, local_script_runner.ScriptCache = saved


def _stats(values: list[float]) -> str:
    return f"median {statistics.median(values):.3f} s (fastest {min(values):.3f}, slowest {max(values):.3f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-page", action="store_true", help="skip the AppTest page figures")
    args = parser.parse_args(argv)
    # This process's own caches on disk (the page's and the core's) go to a temporary folder, not the user's.
    own_cache = tempfile.TemporaryDirectory(prefix="bench-recommend-")
    os.environ[CACHE_ENV] = own_cache.name
    walls, cpus, cold_walls, cold_cpus = cli(args.runs)
    print(f"CLI recommend --gpu 4090 --json, fresh process: wall {_stats(walls)}; CPU {_stats(cpus)}")
    print(
        f"  the same with an empty cache folder (specs and weights built, then written): wall {_stats(cold_walls)}; "
        f"CPU {_stats(cold_cpus)}"
    )
    print("core recommend() (cold = the ranking's caches cleared; warm = the same inputs, another sort):")
    for label, context, cold, cold_cpu, warm, warm_cpu, ranked, fitting in core():
        share = 100 * ranked / fitting if fitting else 0.0
        print(
            f"  {label:<13} {context:>6} tokens: cold {cold:.3f} s (CPU {cold_cpu:.3f}), "
            f"warm {warm:.3f} s (CPU {warm_cpu:.3f}); {ranked}/{fitting} fitting pairs ranked ({share:.1f}%)"
        )
    if not args.no_page:
        for how in ("AppTest", "AppTest, scripts compiled once as a server does"):
            with _server_script_cache(how != "AppTest"):
                same, same_cpu, filtered, filtered_cpu, changed, changed_cpu = page(args.runs)
            print(
                f"What can I run page ({how}), rerun with the same inputs: wall {_stats(same)}; "
                f"CPU {_stats(same_cpu)}"
            )
            print(
                f"What can I run page ({how}), rerun after a new sort or bit-width filter: wall "
                f"{_stats(filtered)}; CPU {_stats(filtered_cpu)}"
            )
            print(
                f"What can I run page ({how}), rerun after a new context: wall {_stats(changed)}; "
                f"CPU {_stats(changed_cpu)}"
            )
    own_cache.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
