"""``python -m planner gpus``: list or look up catalog GPUs, or show the local ones (``--live``).

``--live`` reads every GPU on this machine (NVML, a Mac's sysctl, AMD's amdsmi / amd-smi / rocm-smi /
sysfs, Intel's xpu-smi: :func:`planner.hardware.machine.read_machine`); the text and JSON come from
:mod:`planner.hardware.report`. A bad query raises a :class:`planner.errors.PlannerError`, which the main CLI prints.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from planner.hardware.gpus import FORMS, Gpu, find_gpu, load_gpus
from planner.hardware.live import read_live_gpus
from planner.hardware.report import gpu_to_dict
from planner.hardware.units import format_bandwidth, format_gib


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``gpus`` command to an ``add_subparsers()`` object; returns its parser."""
    gpus = sub.add_parser("gpus", help="list catalog GPUs, look one up, or show this machine's (--live)")
    gpus.add_argument("query", nargs="?", help="a GPU name to look up, e.g. 4090, 'H100 SXM', 'M3 Max 64GB'")
    gpus.add_argument("--form", choices=FORMS, help="list only this kind of GPU")
    gpus.add_argument(
        "--live",
        action="store_true",
        help="read this machine's GPUs: NVIDIA (NVML), Apple silicon, AMD, Intel",
    )
    gpus.add_argument("--json", action="store_true", help="print JSON (integer bytes)")
    gpus.set_defaults(func=run)
    return gpus


def _tflops(value: int | None) -> str:
    return "-" if value is None else f"{value / 10**12:.1f}"


def _flags(gpu: Gpu) -> str:
    s = gpu.supports
    return ",".join(
        n
        for n, on in (("fp8", s.fp8), ("bnb", s.bitsandbytes), ("vllm", s.vllm), ("llama.cpp", s.llama_cpp))
        if on
    )


def _print_table(gpus: list[Gpu]) -> None:
    width = max(len(g.id) for g in gpus)
    print(f"{'id':<{width}}  {'memory':>11}  {'usable':>11}  {'bandwidth':>10}  {'FP16 TF':>7}  runs")
    for g in gpus:
        print(
            f"{g.id:<{width}}  {format_gib(g.memory_bytes):>11}  {format_gib(g.usable_bytes):>11}  "
            f"{format_bandwidth(g.memory_bandwidth_bytes_per_s):>10}  {_tflops(g.fp16_tensor_flops):>7}  {_flags(g)}"
        )


def _print_gpu(g: Gpu) -> None:
    print(
        f"{g.name}  ({g.id}, {g.form}, {g.architecture}"
        + (f", compute capability {g.compute_capability}" if g.compute_capability else "")
        + ")"
    )
    basis = "reported by NVML" if g.memory_basis == "nvml" else "nominal"
    print(
        f"memory:     {g.memory_nominal}; {g.memory_bytes:,} bytes = {format_gib(g.memory_bytes)} ({basis})"
    )
    if g.gpu_usable_bytes is not None:
        print(f"GPU share:  {format_gib(g.gpu_usable_bytes)} of the unified memory it shares with the CPU")
    if g.os_reserve_bytes is not None:
        print(f"OS share:   about {format_gib(g.os_reserve_bytes)} (approximate, a published reading)")
    if g.unified_memory:
        print(f"plans from: {format_gib(g.plan_bytes)}")
    print(f"bandwidth:  {format_bandwidth(g.memory_bandwidth_bytes_per_s)}")
    print(
        f"dense TFLOPS/TOPS: FP16 {_tflops(g.fp16_tensor_flops)}, FP8 {_tflops(g.fp8_tensor_flops)}, "
        f"INT8 {_tflops(g.int8_tensor_ops)}"
    )
    print(f"runs:       {_flags(g) or '-'}")
    print(f"source:     {g.source}")
    if g.memory_source:
        print(f"memory source: {g.memory_source}")
    if g.note:
        print(f"note:       {g.note}")


def run(args: argparse.Namespace) -> int:
    """List the catalog (optionally one ``--form``), show one GPU, or read the local GPUs."""
    if args.live:
        from planner.hardware import machine
        from planner.hardware.report import machine_lines, machine_report_to_dict

        report = machine.read_machine(nvml_report=read_live_gpus())
        if args.json:
            print(json.dumps(machine_report_to_dict(report), indent=2))
        else:
            print("\n".join(machine_lines(report)))
        return 0
    if args.query:
        gpu = find_gpu(args.query)
        if args.json:
            print(json.dumps(gpu_to_dict(gpu), indent=2))
        else:
            _print_gpu(gpu)
        return 0
    gpus = [g for g in load_gpus() if args.form is None or g.form == args.form]
    if args.json:
        print(json.dumps([gpu_to_dict(g) for g in gpus], indent=2))
    else:
        _print_table(gpus)
    return 0
