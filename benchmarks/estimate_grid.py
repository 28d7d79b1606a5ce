"""Benchmark: single-estimate latency and the full catalog x formats x 10 contexts grid.

Run: ``python -m benchmarks.estimate_grid [--formats bf16,bnb-nf4,...]``. Prints figures;
asserts nothing.
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

    single = []
    for _ in range(50):
        t0 = time.perf_counter()
        estimate(spec, formats[0], None, RunSettings(context=8192))
        single.append(time.perf_counter() - t0)
    print(
        f"single estimate (Llama-3.1-8B, {formats[0].id}, 8k): median {statistics.median(single) * 1e3:.2f} ms"
    )

    t0 = time.perf_counter()
    done = refused = 0
    for model_spec in specs.values():
        for fmt in formats:
            for context in CONTEXTS:
                try:
                    estimate(model_spec, fmt, None, RunSettings(context=context))
                    done += 1
                except PlannerError:
                    refused += 1
    elapsed = time.perf_counter() - t0
    total = done + refused
    print(
        f"grid: {len(specs)} models x {len(formats)} formats x {len(CONTEXTS)} contexts = {total} estimates "
        f"in {elapsed:.2f} s ({elapsed / total * 1e3:.2f} ms each; {refused} refused by the engine)"
    )


if __name__ == "__main__":
    main()
