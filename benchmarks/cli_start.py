"""Benchmark: how long ``python -m planner`` takes to answer, as a fresh process each time.

Run: ``python -m benchmarks.cli_start [--runs 7]``.

Times a bare interpreter (``python -c pass``: the floor every command pays, site-packages' ``.pth``
hooks included) and each command below, ``--runs`` times each after one warm-up run (which writes the
bytecode cache), and prints the median wall time and the median CPU time (user + system) of the child.
On a shared machine CPU time is the steadier figure. Prints figures; asserts nothing.
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
COMMANDS = (
    ("bare interpreter", ["-c", "pass"]),
    ("estimate (catalog model, no GPU)", ["-m", "planner", "estimate", "--model", "meta-llama/Llama-3.1-8B", "--format", "q4_k_m"]),
    ("estimate --gpu 4090 (fit, limits, speed)", ["-m", "planner", "estimate", "--model", "meta-llama/Llama-3.1-8B", "--format", "q4_k_m", "--gpu", "4090"]),
    ("params --json", ["-m", "planner", "params", "--model", "meta-llama/Llama-3.1-8B", "--json"]),
    ("gpus 4090", ["-m", "planner", "gpus", "4090"]),
)  # fmt: skip


def _run(args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one child process."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": ""}  # a user's machine keeps its bytecode cache
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=ROOT, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"{args.runs} runs each, median; load average {load:.2f} on {os.cpu_count()} CPUs")
    for label, command in COMMANDS:
        _run(command)  # warm-up: bytecode cache, page cache
        runs = [_run(command) for _ in range(args.runs)]
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"  {label:<42} wall {wall * 1000:6.0f} ms   CPU {cpu * 1000:6.0f} ms")


if __name__ == "__main__":
    main()
