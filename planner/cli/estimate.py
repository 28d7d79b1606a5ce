"""``python -m planner estimate``: memory per component for a model, format, engine and run settings.

With a GPU (``--gpu``, ``--vram`` or ``--live``) it adds the fit: headroom (over all cards, and the
fullest card's on several), the longest context and largest batch that fit, speed, and llama.cpp's
partial offload when everything on the GPU does not fit.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from planner.cli.args import (
    add_engine_knobs,
    add_extra_arguments,
    add_gpu_arguments,
    add_model_arguments,
    add_run_arguments,
    flag_type,
    request_from_args,
)
from planner.request import parse_text, resolve

if TYPE_CHECKING:
    from planner.fit.answer import FitAnswer
    from planner.fit.offload import OffloadPlan
    from planner.memory.startup import Startup


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``estimate`` to an ``add_subparsers()`` object."""
    parser = sub.add_parser("estimate", help="memory per component for a model, format and engine")
    add_model_arguments(parser)
    parser.add_argument(
        "--format",
        type=flag_type(parse_text, "format"),
        help="weight format, e.g. bf16, bnb-nf4, gptq-int4, q4_k_m, mlx-4bit (default for an Ollama tag: its own)",
    )
    add_run_arguments(
        parser,
        # NOTE: examples, not the registry's list: reading it would import every engine on every command;
        # an unknown id is answered with all of them.
        "e.g. transformers, vllm, sglang, trtllm, llama.cpp, ollama, mlx (default: from the format; ollama "
        "for an Ollama tag)",
    )
    add_engine_knobs(parser)
    add_extra_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON (integer bytes)")
    add_gpu_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def json_answer(args: argparse.Namespace, *, allow_local: bool = True) -> dict[str, Any]:
    """What ``--json`` prints (the HTTP API's ``/v1/estimate`` too, with ``allow_local=False``)."""
    from planner.fit.answer import answer_plan, estimate_json

    return estimate_json(*answer_plan(resolve(request_from_args(args), allow_local=allow_local)))


def run(args: argparse.Namespace) -> int:
    """Print the plan's memory, and its fit when a GPU is given."""
    from planner.fit.answer import answer_plan
    from planner.hardware.units import GIB
    from planner.report import approximate_warning

    if args.json:
        print(json.dumps(json_answer(args), indent=2))
        return 0
    plan = resolve(request_from_args(args))
    result, answer = answer_plan(plan)
    low, high = result.total_band
    settings = plan.settings
    warning = approximate_warning(plan.spec)
    if warning:
        print(f"warning: {warning}")
    print(
        f"{plan.spec.name}  {plan.format.id} on {result.engine}, context {settings.context:,} x batch "
        f"{settings.batch}, KV {result.kv_dtype}"
    )
    print(f"tensors from {plan.spec.inventory_source.value}")
    print(f"{'GPU memory':<14} {'GiB':>9}   rule")
    rows = [
        ("weights", result.weights),
        ("KV cache", result.kv_cache),
        ("activations", result.activations),
        ("overhead", result.overhead),
    ]
    rows += [(EXTRA_ROW_LABELS[c.name], c.gpu) for c in result.extras if c.gpu.bytes or not c.host.bytes]
    for label, fig in rows:
        band = "" if fig.exact else f"  [{fig.band[0] / GIB:.2f}-{fig.band[1] / GIB:.2f}, estimate]"
        print(f"{label:<14} {fig.bytes / GIB:>9.3f}   {fig.rule}{band}")
    print(f"{'total':<14} {result.total / GIB:>9.3f}   (range {low / GIB:.2f}-{high / GIB:.2f} GiB)")
    if result.host_total:
        print(
            f"{'host RAM':<14} {result.host_total / GIB:>9.3f}   weights {result.host_weights.bytes / GIB:.3f}, "
            f"KV {result.host_kv_cache.bytes / GIB:.3f}, buffers {result.host_activations.bytes / GIB:.3f}"
        )
    print(f"weights average {result.weights_report.bits_per_weight:.3f} bits per parameter")
    for c in result.extras:
        if c.host.bytes:
            print(f"{'host ' + c.name:<14} {c.host.bytes / GIB:>9.3f}   {c.host.rule}")
    for note in (*result.notes, *result.weights_report.notes):
        print(f"note: {note}")
    if answer:
        print_fit(answer)
    print_launch(result, answer)
    return 0


#: Row labels of the parts beyond the language model in the text output.
EXTRA_ROW_LABELS = {"mmproj": "mmproj", "draft": "draft model", "lora": "LoRA adapters"}


def print_launch(result, answer) -> None:
    """The command that runs this plan (with its environment and notes), or why there is none."""
    from planner.fit.answer import plan_launch

    launch = plan_launch(result, answer)
    if launch is None:
        print(f"\nlaunch: no launch command is modelled for {result.engine}")
        return
    print(f"\nlaunch ({launch.kind}; flags checked against {launch.source}):")
    for line in launch.script.splitlines():
        print(f"  {line}")
    for note in launch.notes:
        print(f"launch note: {note}")


def print_startup(startup: Startup) -> None:
    """The server's start-up on the plan's GPU, marked as an estimate where it is one."""
    from planner.hardware.units import format_gib

    name = {"vllm": "vLLM", "sglang": "SGLang", "trtllm": "TensorRT-LLM"}.get(startup.engine, startup.engine)
    tp = f", per GPU of {startup.tensor_parallel}" if startup.tensor_parallel > 1 else ""
    print(f"start-up ({name} {startup.version}{tp}; estimate):")
    print(f"  budget {format_gib(startup.budget.bytes)}: {startup.budget.rule}")
    for label, fig in (
        ("weights", startup.weights),
        ("profile peak", startup.profile_peak),
        ("non-torch", startup.non_torch),
    ):
        if fig.bytes:
            print(f"  {label} {format_gib(fig.bytes)}")
    print(
        f"  KV pool {startup.kv_pool_bytes / (1 << 30):.2f} GiB = {startup.kv_tokens:,} tokens "
        f"({startup.kv_bytes_per_token:,} B per token)"
    )
    for note in startup.notes:
        print(f"  note: {note}")


def _print_offload(plan: OffloadPlan) -> None:
    from planner.hardware.units import format_gib

    if plan.gpu_layers is None:
        print("partial offload: not even -ngl 0 fits (CUDA context and buffers)")
    else:
        print(
            f"partial offload: {plan.flag} ({plan.repeating_on_gpu} of {plan.n_layer} layers on the GPU) fits, "
            f"GPU {format_gib(plan.fit.required_bytes)}, host RAM {format_gib(plan.host_bytes)}"
        )
    experts = plan.experts
    if experts is not None and experts.n_cpu_moe is not None:
        print(
            f"or experts to the CPU: {experts.flag} keeps {format_gib(experts.moved_bytes)} of routed experts in "
            f"host memory (GPU {format_gib(experts.fit.required_bytes)}, host RAM {format_gib(experts.host_bytes)})"
        )


def print_fit(answer: FitAnswer) -> None:
    """The fit in words: each GPU, the verdict with headroom, the limits, the speed and the offload."""
    from planner.hardware.units import format_gib

    fit = answer.fit
    print(f"\nGPU: {fit.budget.label}")
    for share, margin in zip(fit.per_gpu, fit.allowance.margin_bytes, strict=True):
        print(
            f"  {share.name}: usable {format_gib(share.usable_bytes)} (margin {format_gib(margin)}), "
            f"planned {format_gib(share.used_bytes)}"
        )
    print(f"fits: {'yes' if fit.fits else 'no'}, {fit.headroom_text()}")
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
    if answer.startup is not None:
        print_startup(answer.startup)
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
