"""Benchmark: how long reading and counting the whole shipped catalog takes.

Prints the time to load the catalog files, and to build every model description
from its config (median of several rounds, caches bypassed). Run:
``python -m benchmarks.catalog_parse [--rounds N]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

from planner.catalog import load_catalog
from planner.model import model_from_config


def main() -> None:
    """Time catalog loading and per-model parsing, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    start = time.perf_counter()
    catalog = load_catalog()
    load_s = time.perf_counter() - start

    per_model: dict[str, list[float]] = {model_id: [] for model_id in catalog}
    totals = []
    for _ in range(args.rounds):
        round_start = time.perf_counter()
        for model_id, entry in catalog.items():
            t0 = time.perf_counter()
            spec = model_from_config(entry.config, name=model_id)
            _ = spec.total_parameters, spec.active_parameters
            per_model[model_id].append(time.perf_counter() - t0)
        totals.append(time.perf_counter() - round_start)

    print(f"catalog files: {len(catalog)} models loaded and validated in {load_s * 1e3:.1f} ms")
    print(
        f"parse + count all: median {statistics.median(totals) * 1e3:.1f} ms over {args.rounds} rounds "
        f"(min {min(totals) * 1e3:.1f} ms)"
    )
    slowest = sorted(per_model.items(), key=lambda kv: -statistics.median(kv[1]))[:5]
    print("slowest models (median ms):")
    for model_id, times in slowest:
        print(f"  {statistics.median(times) * 1e3:7.2f}  {model_id}")


if __name__ == "__main__":
    main()
