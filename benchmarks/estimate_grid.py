"""Benchmark: single-estimate latency and the full catalog x formats x 10 contexts grid.

Run: ``python -m benchmarks.estimate_grid [--formats bf16,bnb-nf4,...]``. Prints figures;
asserts nothing. Wall time (``perf_counter``) and this process's CPU time (``process_time``) are
both printed: on a machine other processes share, the wall time also counts their turns on the CPU.
The first grid pays each (model, format)'s one-time work (weights report, GGUF type plan); the
second reuses it, as the app and the solvers do.
"""

from __future__ import annotations

import argparse
import statistics
import time

from planner.catalog import load_catalog
from planner.engines import estimate
from planner.errors import PlannerError
from planner.formats import parse_format
from planner.memory.estimate import RunSettings

#: The grid's size when issue 17 set its target ("the grid under 1 s"): 58 catalog models x 10 x 10.
TARGET_GRID = 5_800
DEFAULT_FORMATS = "bf16,fp8,bnb-int8,bnb-nf4,gptq-int4,awq-int4,fp8-block,q8_0,q4_k_m,q2_k"
CONTEXTS = (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144)


def main() -> None:
    """Time one estimate, then the whole grid, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--formats", default=DEFAULT_FORMATS)
    args = parser.parse_args()
    catalog = load_catalog()
    formats = [parse_format(f) for f in args.formats.split(",")]
    spec = catalog["meta-llama/Llama-3.1-8B"].spec()
    specs = {model_id: entry.spec() for model_id, entry in catalog.items()}

    single, single_cpu = [], []
    for _ in range(50):
        t0, c0 = time.perf_counter(), time.process_time()
        estimate(spec, formats[0], None, RunSettings(context=8192))
        single.append(time.perf_counter() - t0)
        single_cpu.append(time.process_time() - c0)
    print(
        f"single estimate (Llama-3.1-8B, {formats[0].id}, 8k): median {statistics.median(single) * 1e3:.2f} ms "
        f"(CPU {statistics.median(single_cpu) * 1e3:.2f} ms)"
    )
    for label in ("grid", "grid again"):
        _grid(label, specs, formats)


def _grid(label: str, specs: dict, formats: list) -> None:
    t0, c0 = time.perf_counter(), time.process_time()
    done = refused = 0
    for model_spec in specs.values():
        for fmt in formats:
            for context in CONTEXTS:
                try:
                    estimate(model_spec, fmt, None, RunSettings(context=context))
                    done += 1
                except PlannerError:
                    refused += 1
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    total = done + refused
    print(
        f"{label}: {len(specs)} models x {len(formats)} formats x {len(CONTEXTS)} contexts = {total} estimates "
        f"in {elapsed:.2f} s, CPU {cpu:.2f} s ({elapsed / total * 1e3:.2f} ms each; {refused} refused by the engine); "
        f"per {TARGET_GRID:,} estimates {elapsed / total * TARGET_GRID:.2f} s, CPU {cpu / total * TARGET_GRID:.2f} s"
    )


if __name__ == "__main__":
    main()
