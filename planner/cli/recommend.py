"""``python -m planner recommend``: which catalog model and format to run on a GPU, best expected quality first.

The GPU, context, batch and engine come from the same :class:`~planner.request.PlanRequest` as every
other command; the ranking is :func:`planner.recommend.recommend`'s.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import TYPE_CHECKING, Any

from planner.cli.args import add_gpu_arguments, add_run_arguments, names, request_from_args, tokens, whole
from planner.errors import RequestError
from planner.hardware.units import GIB
from planner.request import PlanRequest, resolve_budget, resolve_settings

if TYPE_CHECKING:
    from planner.fit.budget import Budget
    from planner.recommend.ranking import Candidate, Recommendation

DEFAULT_TOP = 10


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``recommend`` to an ``add_subparsers()`` object."""
    rec = sub.add_parser(
        "recommend",
        help="rank every catalog model x format that fits a GPU by expected quality (published data)",
    )
    add_gpu_arguments(rec)
    add_run_arguments(
        rec, "transformers, vllm or llama.cpp: only formats it runs (default: each format's own)"
    )
    rec.add_argument(
        "--top", type=whole("top"), default=DEFAULT_TOP, help=f"ranked pairs to show (default {DEFAULT_TOP})"
    )
    rec.add_argument(
        "--family", type=names, help="catalog families, comma-separated (e.g. llama,gemma3; a prefix works)"
    )
    rec.add_argument("--license", type=names, help="license ids, comma-separated (e.g. apache-2.0,mit)")
    rec.add_argument(
        "--min-context",
        type=tokens("min-context"),
        help="keep models whose max_position_embeddings is at least this",
    )
    rec.add_argument(
        "--benchmark", default="mmlu-pro",
        help="published score to rank by (default mmlu-pro: MMLU-Pro, the publisher's else the Open LLM "
        "Leaderboard's; mmlu: MMLU 5-shot)",
    )  # fmt: skip
    rec.add_argument(
        "--formats", type=names, help="comma-separated format ids (default: a spread of bit widths)"
    )
    rec.add_argument("--bits", type=bit_widths, help="bit widths to keep, comma-separated (e.g. 4 or 16,8,4)")
    rec.add_argument("--modality", type=names, help="text, vision (images and text in), comma-separated")
    rec.add_argument("--arch", type=names, help="dense, moe (comma-separated)")
    rec.add_argument(
        "--sort", default="quality", help="order of the list: quality (default), speed or headroom"
    )
    rec.add_argument(
        "--add-model", action="append", default=[], metavar="HUB_ID",
        help="a Hugging Face model id to add to the comparison (repeat for more; needs the Hub)",
    )  # fmt: skip
    rec.add_argument("--json", action="store_true", help="print JSON (integer bytes)")
    rec.set_defaults(func=run)
    return rec


def bit_widths(text: str) -> tuple[int, ...]:
    """``"16,8,4"`` -> ``(16, 8, 4)``; a part that is not a whole number is an argparse error naming it."""
    out = []
    for part in names(text):
        digits = part.lower().removesuffix("-bit").removesuffix("bit")
        if not digits.isdigit():
            raise argparse.ArgumentTypeError(f"'{part:.20}' is not a bit width (e.g. 4 or 16,8,4)")
        out.append(int(digits))
    return tuple(out)


def required_budget(request: PlanRequest) -> Budget:
    """The request's GPU budget; :class:`FitError` when it names none (a ranking needs a GPU)."""
    budget = resolve_budget(request)
    if budget is None:
        raise RequestError("gpu", "recommend needs a GPU: --gpu NAME, --vram SIZE or --live")
    return budget


def run(args: argparse.Namespace) -> int:
    """Rank the catalog's fitting (model, format) pairs by expected quality and print the evidence."""
    from planner.recommend.filters import Filters
    from planner.recommend.ranking import recommend

    request = request_from_args(args)
    budget = required_budget(request)
    filters = Filters(
        families=args.family or (),
        licenses=args.license or (),
        min_context=args.min_context,
        bit_widths=args.bits or (),
        modalities=tuple(m.lower() for m in args.modality or ()),
        architectures=tuple(a.lower() for a in args.arch or ()),
    )
    result = recommend(
        budget,
        resolve_settings(request),
        request.engine_id,
        formats=args.formats,
        filters=filters,
        benchmark=args.benchmark,
        sort=args.sort,
        extra_models=args.add_model,
    )
    if args.json:
        print(json.dumps(result.to_dict(top=args.top), indent=2))
        return 0
    _print(result, args.top)
    return 0


def _gib(n: int) -> str:
    return f"{n / GIB:.2f}"


def _speed(c: Candidate) -> str:
    return "-" if c.speed is None else f"{c.speed.decode_tokens_per_s:,.1f}"


def _basis(c: Candidate) -> str:
    """A mark for how the retention is known: '~' translated from KL divergence, '' published accuracy."""
    return "~" if c.quality.retention.basis == "kld" else ""


def _print_ranked(ranked: tuple[Candidate, ...]) -> None:
    width = max(len(c.model_id) for c in ranked)
    print(
        f"\n{'#':>3}  {'model':<{width}}  {'params':>7}  {'format':<9} {'engine':<12} {'bits':>5}  {'expected':>8}  "
        f"{'range':>11}  {'score':>5}  {'retention':>10}  {'needs GiB':>9}  {'headroom GiB':>12}  {'tok/s':>7}"
    )
    for c in ranked:
        q = c.quality
        print(
            f"{c.rank:>3}  {c.model_id:<{width}}  {c.parameters / 1e9:>6.1f}B  {c.format_id:<9} {c.engine:<12} "
            f"{c.bits_per_weight:>5.2f}  {q.expected:>8.1f}  {q.expected_low:>5.1f}-{q.expected_high:<5.1f}  "
            f"{q.score.value:>5.1f}  {_basis(c) + format(q.retention_used, '.2%'):>10}  "
            f"{_gib(c.fit.required_bytes):>9}  {_gib(c.fit.headroom_bytes):>12}  {_speed(c):>7}"
        )


def _print_evidence(c: Candidate) -> None:
    q = c.quality
    score, ret = q.score, q.retention
    print(f"\nevidence for #{c.rank} {c.model_id} {c.format_id}:")
    print(f"  score: {score.benchmark} {score.value:g} ({score.setting}; checkpoint {score.checkpoint})")
    print(f"         {score.source} ({score.where})")
    if q.score_note:
        print(f"         note: {q.score_note}")
    print(f"  retention: {ret.note}")
    for r in ret.evidence:
        print(
            f"    {r.value:g}% on {r.model} ({r.params_billion:g}B), {r.benchmark}: {r.source.url} ({r.where})"
        )
    est = c.estimate
    print(
        f"  memory: weights {_gib(est.weights.bytes)} + KV cache {_gib(est.kv_cache.bytes)} + activations "
        f"{_gib(est.activations.bytes)} + overhead {_gib(est.overhead.bytes)} = {_gib(c.fit.required_bytes)} GiB "
        f"of {_gib(c.fit.usable_bytes)} GiB usable (headroom {_gib(c.fit.headroom_bytes)} GiB)"
    )
    if c.speed is not None:
        s = c.speed
        print(
            f"  decode (estimate): ~{s.decode_tokens_per_s:,.1f} tokens/s "
            f"[{s.decode_tokens_per_s_low:,.1f}-{s.decode_tokens_per_s_high:,.1f}], {s.bound}-bound"
        )


def _unranked_summary(result: Recommendation) -> list[str]:
    """Why fitting pairs are unranked, grouped: formats without retention, models without a score."""
    from planner.recommend.expected import benchmark_label

    label = benchmark_label(result.benchmark)
    no_retention = Counter(
        c.format_id for c in result.unranked if c.quality.retention_used is None
    )  # formats without published accuracy retention
    no_score = sorted({c.model_id for c in result.unranked if c.quality.score is None})
    out = []
    if no_retention:
        out.append(
            "no published accuracy retention (perplexity/KLD only, or no measurement): "
            + ", ".join(f"{fid} ({n} pairs)" for fid, n in sorted(no_retention.items()))
        )
    if no_score:
        out.append(f"no published {label} score ({len(no_score)} model(s)): {', '.join(no_score)}")
    return out


def _print_widths(result: Recommendation) -> None:
    """The answer first: per bit width, the largest model that fits, its expected score and the context left."""
    rows = []
    for p in result.by_bit_width:
        c = p.largest
        if c is None:
            rows.append((f"{p.bit_width}-bit", "-", "-", "-", "-", "-", "-"))
            continue
        limit = p.largest_context
        context = (
            "-"
            if limit is None or limit.value is None
            else f"{limit.value:,}" + ("+" if limit.capped else "")
        )
        expected = "-" if c.quality.expected is None else f"{_basis(c)}{c.quality.expected:.1f}"
        rows.append(
            (f"{p.bit_width}-bit", c.model_id, f"{c.parameters / 1e9:.1f}B", c.format_id, expected,
             _gib(c.fit.required_bytes), context)
        )  # fmt: skip
    head = ("bits", "largest model that fits", "params", "format", "expected", "needs GiB", "max context")
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head))]
    print(
        "\nlargest model per bit width (expected '-' = no published score or retention; + = model's limit):"
    )
    for row in (head, *rows):
        print(
            "  "
            + "  ".join(
                cell.ljust(w) if i in (1, 3) else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )


def _print(result: Recommendation, top: int) -> None:
    from planner.recommend.expected import benchmark_label

    settings = result.settings
    print(f"What can I run on {result.budget.label}, context {settings.context:,} x batch {settings.batch}")
    engine = result.engine or "each format's own"
    print(
        f"ranked by {benchmark_label(result.benchmark)} x published retention; engine: {engine}; "
        f"formats tried: {', '.join(result.formats)}"
    )
    for text in result.filters.describe():
        print(f"filter: {text}")
    _print_widths(result)
    ranked = [c for c in result.listing if c.ranked][:top]
    if ranked:
        if result.sort != "quality":
            print(f"\nranked pairs sorted by {result.sort} (the rank stays by expected quality):")
        _print_ranked(tuple(ranked))
        if len(result.ranked) > top:
            print(f"  ... {len(result.ranked) - top} more ranked (--top N shows more)")
        print(
            "\nexpected = score x retention (capped at 100%); range from the published min-max retention; "
            "~ marks a retention translated from a published KL divergence (approximate)"
        )
    else:
        print("\nnothing with a published score and a published retention fits this budget")
    print("\nbest pick per bit width:")
    for p in result.by_bit_width:
        if p.pick is None:
            print(f"  {p.bit_width:>2}-bit: {p.note}")
        else:
            c = p.pick
            print(
                f"  {p.bit_width:>2}-bit: {c.model_id} {c.format_id}, expected {c.quality.expected:.1f}, "
                f"needs {_gib(c.fit.required_bytes)} GiB"
            )
    print(f"\n16-bit vs a larger model at 4-bit: {result.trade_off.text}")
    for trade in result.trade_offs[1:]:
        print(f"{trade.high}-bit vs a larger model at {trade.low}-bit: {trade.text}")
    if result.best is not None:
        _print_evidence(result.best)
    if result.unranked:
        print(f"\nunranked: {len(result.unranked)} fitting pairs (--json lists each with its reason)")
        for line in _unranked_summary(result):
            print(f"  {line}")
    if result.no_fit:
        print(f"\nnothing fits for {len(result.no_fit)} model(s): {', '.join(result.no_fit)}")
    filtered = [e for e in result.excluded if e.reason.endswith("is filtered out")]
    if filtered:
        print(f"\nleft out by the filters: {len(filtered)} model(s) (--json lists them)")
    for e in result.excluded:
        if e not in filtered:
            print(f"left out: {e.model_id}: {e.reason}")
    print("\nassumptions:")
    for text in result.assumptions:
        print(f"  - {text}")
    for note in result.notes:
        print(f"note: {note}")
    models = len({c.model_id for c in result.candidates}) + len(result.no_fit)
    print(f"({models} models x {len(result.formats)} formats considered in {result.elapsed_s:.2f} s)")


__all__ = ["add_parser", "required_budget", "run"]
