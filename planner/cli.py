"""``python -m planner``: the planner from a terminal.

Commands print a readable table, or with ``--json`` the same data other tools parse.
Errors the user can fix print one line to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from planner.errors import PlannerError
from planner.report import compact_layers, params_report
from planner.resolve import load_model

GIB = 1 << 30


def _human(n: int) -> str:
    for unit, size in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


def cmd_params(args: argparse.Namespace) -> int:
    """Count a model's parameters, tensor by tensor."""
    spec = load_model(args.model, allow_hub=not args.offline)
    report = params_report(spec)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    p = report["parameters"]
    print(f"{spec.name}  ({spec.architecture}{', approximate' if spec.approximate else ''})")
    print(f"parameters: {p['total']:,} total ({_human(p['total'])}), {p['active']:,} active per token")
    width = max(len(t["name"]) for t in report["tensors"])
    print(f"\n{'tensor':<{width}}  {'role':<20} {'shape':<22} {'count':>7} {'parameters':>16}")
    for t in report["tensors"]:
        shape = "x".join(map(str, t["shape"]))
        print(f"{t['name']:<{width}}  {t['role']:<20} {shape:<22} {t['count']:>7} {t['parameters']:>16,}")
    print("\nlayers:")
    for span, label in compact_layers(spec):
        print(f"  {span:<9} {label}")
    for note in spec.notes:
        print(f"note: {note}")
    return 0


def cmd_estimate(args: argparse.Namespace) -> int:
    """Memory per component for a model, format, engine and run settings."""
    from planner.engines import estimate
    from planner.formats import FormatOptions, parse_format
    from planner.memory.estimate import RunSettings

    spec = load_model(args.model, allow_hub=not args.offline)
    options = FormatOptions(group_size=args.group_size, double_quant=True if args.double_quant else None)
    fmt = parse_format(args.format, options)
    kv_k = args.kv_dtype_k or args.kv_dtype
    kv_v = args.kv_dtype_v or args.kv_dtype
    settings = RunSettings(
        context=args.context,
        batch=args.batch,
        kv_dtype_k=kv_k,
        kv_dtype_v=kv_v,
        flash_attn=None if args.flash_attn is None else args.flash_attn == "on",
        ubatch=args.ubatch,
        gpu_layers=args.gpu_layers,
        gpu_memory_utilization=args.gpu_memory_utilization,
        max_num_batched_tokens=args.max_num_batched_tokens,
    )
    result = estimate(spec, fmt, args.engine, settings)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    low, high = result.total_band
    print(
        f"{spec.name}  {fmt.id} on {result.engine}, context {args.context:,} x batch {args.batch}, KV {result.kv_dtype}"
    )
    print(f"{'GPU memory':<14} {'GiB':>9}   rule")
    for label, fig in (
        ("weights", result.weights),
        ("KV cache", result.kv_cache),
        ("activations", result.activations),
        ("overhead", result.overhead),
    ):
        band = "" if fig.exact else f"  [{fig.band[0] / GIB:.2f}-{fig.band[1] / GIB:.2f}]"
        print(f"{label:<14} {fig.bytes / GIB:>9.3f}   {fig.rule}{band}")
    print(f"{'total':<14} {result.total / GIB:>9.3f}   (range {low / GIB:.2f}-{high / GIB:.2f} GiB)")
    if result.host_total:
        print(
            f"{'host RAM':<14} {result.host_total / GIB:>9.3f}   weights {result.host_weights.bytes / GIB:.3f}, "
            f"KV {result.host_kv_cache.bytes / GIB:.3f}, buffers {result.host_activations.bytes / GIB:.3f}"
        )
    print(f"weights average {result.weights_report.bits_per_weight:.3f} bits per parameter")
    for note in (*result.notes, *result.weights_report.notes):
        print(f"note: {note}")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(prog="python -m planner", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    params = sub.add_parser("params", help="count parameters and list tensors")
    params.add_argument(
        "--model",
        required=True,
        help="catalog id (e.g. meta-llama/Llama-3.1-8B), config.json path, or Hub id",
    )
    params.add_argument("--json", action="store_true", help="print JSON")
    params.add_argument("--offline", action="store_true", help="never contact the Hugging Face Hub")
    params.set_defaults(func=cmd_params)

    est = sub.add_parser("estimate", help="memory per component for a model, format and engine")
    est.add_argument("--model", required=True, help="catalog id, config.json path, or Hub id")
    est.add_argument("--format", required=True, help="weight format, e.g. bf16, bnb-nf4, gptq-int4, q4_k_m")
    est.add_argument("--engine", help="transformers, vllm or llama.cpp (default: from the format)")
    est.add_argument("--context", type=_positive, default=4096, help="tokens per sequence (default 4096)")
    est.add_argument("--batch", type=_positive, default=1, help="concurrent sequences (default 1)")
    est.add_argument("--kv-dtype", default="auto", help="KV cache type for K and V (default: engine's)")
    est.add_argument("--kv-dtype-k", help="KV cache type for keys (overrides --kv-dtype)")
    est.add_argument("--kv-dtype-v", help="KV cache type for values (overrides --kv-dtype)")
    est.add_argument("--group-size", type=int, help="GPTQ/AWQ/HQQ group size (default 128; -1 per channel)")
    est.add_argument("--double-quant", action="store_true", help="bitsandbytes 4-bit double quantization")
    est.add_argument("--flash-attn", choices=["on", "off"], help="flash attention (llama.cpp -fa)")
    est.add_argument("--ubatch", type=_positive, help="llama.cpp physical batch n_ubatch (default 512)")
    est.add_argument("--gpu-layers", type=int, help="llama.cpp layers on the GPU (-ngl; default all)")
    est.add_argument("--gpu-memory-utilization", type=float, help="vLLM memory fraction (default 0.9)")
    est.add_argument("--max-num-batched-tokens", type=_positive, help="vLLM tokens per scheduler step")
    est.add_argument("--json", action="store_true", help="print JSON (integer bytes)")
    est.add_argument("--offline", action="store_true", help="never contact the Hugging Face Hub")
    est.set_defaults(func=cmd_estimate)

    from planner.hardware.cli import add_gpus_parser

    add_gpus_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except PlannerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
