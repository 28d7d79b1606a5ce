"""Benchmark: the time to answer ``python -m planner fit`` for the whole catalog on one GPU.

Run: ``python -m benchmarks.fit_catalog [--gpu rtx-4090] [--formats bf16,q4_k_m,...] [--repeat 3]``.
Times the ``fit`` answer (every catalog model x the representative formats, best pick per
model), then the max context of each model's pick. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import time

from planner.catalog import load_catalog
from planner.fit import best_format, budget_from_gpu, max_context, representative_formats
from planner.formats import parse_format
from planner.memory.estimate import RunSettings


def main() -> None:
    """Time the catalog fit and the max-context searches, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpu", default="rtx-4090")
    parser.add_argument("--formats", help="comma-separated ids (default: the representative formats)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    budget = budget_from_gpu(args.gpu)
    formats = args.formats.split(",") if args.formats else list(representative_formats(None))
    settings = RunSettings()

    t0 = time.perf_counter()
    specs = [entry.spec() for entry in load_catalog().values()]
    print(f"catalog load: {len(specs)} models in {time.perf_counter() - t0:.2f} s")

    runs = []
    picks = {}
    for _ in range(max(args.repeat, 1)):
        t0 = time.perf_counter()
        fitted = 0
        for spec in specs:
            options = best_format(spec, None, settings, budget, formats)
            fitted += len(options)
            picks[spec.name] = next((o.format_id for o in options if o.pick), None)
        runs.append(time.perf_counter() - t0)
    print(
        f"fit on {budget.label}: {len(specs)} models x {len(formats)} formats = {fitted} fits, "
        f"median {statistics.median(runs):.2f} s (first {runs[0]:.2f} s, {statistics.median(runs) / fitted * 1e3:.2f} ms each)"
    )

    t0 = time.perf_counter()
    found = 0
    for spec in specs:
        if picks[spec.name] is not None:
            max_context(spec, parse_format(picks[spec.name]), None, settings, budget)
            found += 1
    elapsed = time.perf_counter() - t0
    print(
        f"max context of each pick: {found} searches in {elapsed:.2f} s ({elapsed / max(found, 1) * 1e3:.1f} ms each)"
    )


if __name__ == "__main__":
    main()
