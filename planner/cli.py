"""``python -m planner``: the planner from a terminal.

Commands print a readable table, or with ``--json`` the same data other tools parse.
Errors the user can fix print one line to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from planner.errors import PlannerError
from planner.report import compact_layers, params_report
from planner.resolve import load_model

if TYPE_CHECKING:
    from planner.fit import Budget, FormatOption, OffloadPlan
    from planner.fit.answer import FitAnswer
    from planner.memory.estimate import RunSettings
    from planner.model import ModelSpec

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
    from planner.fit.answer import estimate_json, fit_answer
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
    budget = gpu_budget(args)
    result = estimate(spec, fmt, args.engine, settings)
    answer = fit_answer(spec, fmt, settings, result, budget) if budget else None
    if args.json:
        print(json.dumps(estimate_json(result, answer), indent=2))
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
    if answer:
        _print_fit(answer)
    return 0


# ---------------------------------------------------------------------------------------------
# GPU budgets and fit answers (estimate --gpu/--vram/--live, fit)
# ---------------------------------------------------------------------------------------------


def gpu_budget(args: argparse.Namespace) -> Budget | None:
    """The budget the GPU options describe, or None when none was given."""
    from planner.fit import FitError, budget_from_gpu, budget_from_live, budget_from_size

    if args.live:
        if args.gpu or args.vram:
            raise FitError("--live reads this machine's GPUs; leave out --gpu and --vram")
        return budget_from_live(args.gpus)
    if args.gpu:
        return budget_from_gpu(args.gpu, args.gpus or 1, vram=args.vram)
    if args.vram:
        return budget_from_size(args.vram, args.gpus or 1)
    if args.gpus:
        raise FitError("--gpus needs --gpu NAME, --vram SIZE or --live")
    return None


def _print_offload(plan: OffloadPlan) -> None:
    if plan.gpu_layers is None:
        print("partial offload: not even -ngl 0 fits (CUDA context and buffers)")
    else:
        print(
            f"partial offload: {plan.flag} ({plan.repeating_on_gpu} of {plan.n_layer} layers on the GPU) fits, "
            f"GPU {plan.fit.required_bytes / GIB:.2f} GiB, host RAM {plan.host_bytes / GIB:.2f} GiB"
        )
    experts = plan.experts
    if experts is not None and experts.n_cpu_moe is not None:
        print(
            f"or experts to the CPU: {experts.flag} keeps {experts.moved_bytes / GIB:.2f} GiB of routed experts in "
            f"host memory (GPU {experts.fit.required_bytes / GIB:.2f} GiB, host RAM {experts.host_bytes / GIB:.2f} GiB)"
        )


def _print_fit(answer: FitAnswer) -> None:
    fit = answer.fit
    print(f"\nGPU: {fit.budget.label}")
    for share, margin in zip(fit.per_gpu, fit.allowance.margin_bytes, strict=True):
        print(
            f"  {share.name}: usable {share.usable_bytes / GIB:.2f} GiB (margin {margin / GIB:.2f} GiB), "
            f"planned {share.used_bytes / GIB:.2f} GiB"
        )
    verdict = "yes" if fit.fits else "no"
    side = "headroom" if fit.headroom_bytes >= 0 else "short by"
    print(
        f"fits: {verdict}, {side} {abs(fit.headroom_bytes) / GIB:.2f} GiB "
        f"(needs {fit.required_bytes / GIB:.2f} GiB of {fit.usable_bytes / GIB:.2f} GiB usable)"
    )
    for blocker in fit.blockers:
        print(f"blocked: {blocker}")
    if answer.offload is not None:
        _print_offload(answer.offload)
    settings = fit.estimate.settings
    for limit, label in (
        (answer.max_context, f"max context at batch {settings.batch}"),
        (answer.max_batch, f"max batch at context {settings.context:,}"),
    ):
        if limit.value is None:
            print(f"{label}: none fits")
        else:
            capped = f" (the cap, {limit.cap:,}: memory allows more)" if limit.capped else ""
            print(f"{label}: {limit.value:,}{capped}")
    speed = answer.speed
    if speed is not None:
        per_sequence = f", {speed.per_sequence_tokens_per_s:,.1f} per sequence" if speed.batch > 1 else ""
        print(
            f"decode (estimate): ~{speed.decode_tokens_per_s:,.1f} tokens/s{per_sequence} "
            f"[{speed.decode_tokens_per_s_low:,.1f}-{speed.decode_tokens_per_s_high:,.1f}], {speed.bound}-bound"
        )
        if speed.prefill_seconds is not None:
            print(
                f"prefill of {speed.prompt_tokens:,} tokens (estimate): ~{speed.prefill_seconds:,.2f} s "
                f"[{speed.prefill_seconds_low:,.2f}-{speed.prefill_seconds_high:,.2f}]"
            )
    for note in fit.notes:
        print(f"fit note: {note}")


def cmd_fit(args: argparse.Namespace) -> int:
    """Every catalog model x format that fits a GPU, with headroom; the best format per model marked."""
    from planner.catalog import load_catalog
    from planner.fit import FitError, best_format, representative_formats
    from planner.memory.estimate import RunSettings

    budget = gpu_budget(args)
    if budget is None:
        raise FitError("fit needs a GPU: --gpu NAME, --vram SIZE or --live")
    settings = RunSettings(context=args.context, batch=args.batch)
    formats = _format_list(args.formats) if args.formats else list(representative_formats(args.engine))
    started = time.perf_counter()
    specs = sorted(
        (entry.spec() for entry in load_catalog().values()), key=lambda s: (s.total_parameters, s.name)
    )
    rows: list[tuple[ModelSpec, FormatOption]] = []
    no_fit: list[str] = []
    for spec in specs:
        options = [o for o in best_format(spec, args.engine, settings, budget, formats) if o.fit.fits]
        rows.extend((spec, o) for o in options)
        if not options:
            no_fit.append(spec.name)
    elapsed = time.perf_counter() - started
    if args.json:
        print(json.dumps(_fit_table_json(budget, settings, args.engine, formats, rows, no_fit), indent=2))
        return 0
    print(f"Fits on {budget.label}, context {settings.context:,} x batch {settings.batch}")
    engine = args.engine or "each format's own"
    print(f"formats tried: {', '.join(formats)}; engine: {engine}")
    if rows:
        width = max(len(spec.name) for spec, _ in rows)
        print(
            f"\n  {'model':<{width}}  {'params':>8}  {'format':<10} {'engine':<12} {'bits':>5}  "
            f"{'needs GiB':>9}  {'usable GiB':>10}  {'headroom GiB':>12}"
        )
        for spec, option in rows:
            fit = option.fit
            mark = "*" if option.pick else " "
            print(
                f"{mark} {spec.name:<{width}}  {_human(spec.total_parameters):>8}  {option.format_id:<10} "
                f"{fit.estimate.engine:<12} {fit.estimate.weights_report.bits_per_weight:>5.2f}  "
                f"{fit.required_bytes / GIB:>9.2f}  {fit.usable_bytes / GIB:>10.2f}  {fit.headroom_bytes / GIB:>12.2f}"
            )
        print("\n* the pick: the most bits per weight that fits")
    if no_fit:
        print(f"\nnothing fits for {len(no_fit)} model(s): {', '.join(no_fit)}")
    rules = dict.fromkeys(o.fit.allowance.rule for _, o in rows)
    for rule in rules:
        print(f"margin: {rule}")
    for note in budget.notes:
        print(f"note: {note}")
    print(
        f"({len(specs)} models x {len(formats)} formats in {elapsed:.2f} s; formats an engine refuses are left out)"
    )
    return 0


def _format_list(text: str) -> list[str]:
    from planner.formats import parse_format

    ids = [part.strip() for part in text.split(",") if part.strip()]
    if not ids:
        raise PlannerError("--formats needs at least one format id")
    return [parse_format(i).id for i in ids]


def _fit_table_json(
    budget: Budget,
    settings: RunSettings,
    engine: str | None,
    formats: list[str],
    rows: list[tuple[ModelSpec, FormatOption]],
    no_fit: list[str],
) -> dict[str, Any]:
    from planner.fit.answer import gpu_json

    return {
        "gpu": gpu_json(budget),
        "per_gpu": [
            {"name": d.name, "capacity": d.capacity_bytes, "total": d.total_bytes} for d in budget.devices
        ],
        "context": settings.context,
        "batch": settings.batch,
        "engine": engine,
        "formats": formats,
        "fits": [
            {
                "model": spec.name,
                "parameters": spec.total_parameters,
                "format": option.format_id,
                "engine": option.fit.estimate.engine,
                "bits_per_weight": round(option.fit.estimate.weights_report.bits_per_weight, 4),
                "required": option.fit.required_bytes,
                "usable": option.fit.usable_bytes,
                "headroom": option.fit.headroom_bytes,
                "pick": option.pick,
            }
            for spec, option in rows
        ],
        "no_fit": no_fit,
        "notes": list(budget.notes),
    }


def _add_gpu_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gpu", help="catalog GPU, e.g. 4090, 'H100 SXM', 'M3 Max 64GB' (fuzzy)")
    parser.add_argument("--vram", help="memory per GPU with its unit: 24GiB (2^30) or 24GB (10^9)")
    parser.add_argument("--gpus", type=_positive, help="number of GPUs (default 1)")
    parser.add_argument(
        "--live", action="store_true", help="plan against this machine's free GPU memory (NVML)"
    )


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
    _add_gpu_arguments(est)
    est.set_defaults(func=cmd_estimate)

    fit = sub.add_parser("fit", help="every catalog model x format that fits a GPU, best format marked")
    _add_gpu_arguments(fit)
    fit.add_argument("--context", type=_positive, default=4096, help="tokens per sequence (default 4096)")
    fit.add_argument("--batch", type=_positive, default=1, help="concurrent sequences (default 1)")
    fit.add_argument("--engine", help="transformers, vllm or llama.cpp (default: each format's own)")
    fit.add_argument("--formats", help="comma-separated format ids (default: a spread of bit widths)")
    fit.add_argument("--json", action="store_true", help="print JSON (integer bytes)")
    fit.set_defaults(func=cmd_fit)

    from planner.hardware.cli import add_gpus_parser
    from planner.recommend.cli import add_recommend_parser

    add_gpus_parser(sub)
    add_recommend_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except PlannerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
