"""Generate README's "Claims checked" section from the planner and ``data/quality``.

Four rules of thumb, each checked with the planner's own memory arithmetic (weights, KV cache,
engine allowances, max-context search) and the published figures in ``data/quality/formats.json``;
every number in the section is computed here, every quality figure links its source.

Run ``python -m scripts.claims`` to rewrite the section between the markers in README.md,
``--check`` to exit 1 when it is out of date, ``--print`` to print it.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from pathlib import Path
from statistics import median

from planner.catalog import load_catalog
from planner.engines.constants import default
from planner.errors import PlannerError
from planner.fit import budget_from_gpu, max_context
from planner.formats import parse_format
from planner.hardware.units import GB, MIB
from planner.memory.estimate import RunSettings
from planner.quality import ACCURACY, FormatQuality, load_format_quality
from scripts.readme_section import replace_section, write_or_check

README = Path(__file__).resolve().parent.parent / "README.md"
START = "<!-- claims:start -->"
END = "<!-- claims:end -->"

#: The 4-bit formats whose weights the first claim measures.
FOUR_BIT = ("q4_k_m", "q4_0", "awq-int4", "gptq-int4", "bnb-nf4")
#: Models whose whole 4-bit footprint is shown (small, mid, large dense models).
REFERENCE_MODELS = (
    "meta-llama/Llama-3.1-8B-Instruct",
    "Qwen/Qwen2.5-32B-Instruct",
    "meta-llama/Llama-3.1-70B-Instruct",
)
REFERENCE_CONTEXT = 8192
#: The "24 GB card" of the second claim, and what counts as "a long conversation".
CARD = "rtx-4090"
LONG_CONTEXT = 32768
SIXTEEN_BIT = (
    ("meta-llama/Llama-3.1-8B-Instruct", "bf16", "transformers"),
    ("meta-llama/Llama-3.1-8B-Instruct", "bf16", "vllm"),
    ("meta-llama/Llama-3.1-8B-Instruct", "gguf-f16", "llama.cpp"),
    ("Qwen/Qwen2.5-7B-Instruct", "bf16", "vllm"),
    ("mistralai/Mistral-7B-Instruct-v0.3", "gguf-f16", "llama.cpp"),
)
FOUR_BIT_LARGE = (
    ("Qwen/Qwen2.5-32B-Instruct", "q4_k_m", "llama.cpp", "auto"),
    ("Qwen/Qwen2.5-32B-Instruct", "q4_k_m", "llama.cpp", "q8_0"),
    ("Qwen/Qwen2.5-32B-Instruct", "awq-int4", "vllm", "auto"),
    ("Qwen/Qwen2.5-32B-Instruct", "bnb-nf4", "transformers", "auto"),
    ("Qwen/Qwen3-32B", "q4_k_m", "llama.cpp", "auto"),
    ("Qwen/Qwen3-32B", "q4_k_m", "llama.cpp", "q8_0"),
    ("Qwen/Qwen3-30B-A3B", "q4_k_m", "llama.cpp", "auto"),
)
#: Loss thresholds of the third and fourth claims, in percent of the 16-bit score.
EIGHT_BIT_LOSS = 0.5
TWO_BIT_LOSS = (10.0, 20.0)


def _gb(n_bytes: int | float) -> str:
    return f"{n_bytes / GB:.2f}"


def _accuracy_rows(bits: float) -> list[FormatQuality]:
    rows = [r for r in load_format_quality().rows if r.metric == ACCURACY and r.bits == bits]
    return sorted(rows, key=lambda r: (r.family, r.format or "", r.params_billion, r.model, r.benchmark))


def _scheme(r: FormatQuality) -> str:
    return r.format or f"{r.family} {r.bits:g}-bit (no planner id)"


def _link(r: FormatQuality) -> str:
    return f"[{r.source.id}]({r.source.url})"


def _sources(rows: Iterable[FormatQuality]) -> str:
    seen = {r.source.id: r.source for r in rows}
    return "; ".join(f"[{s.title}]({s.url})" for s in seen.values())


def _short(text: str, limit: int = 48) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# ---------------------------------------------------------------------------------------------
# 1. "4-bit takes about 0.7 GB per billion parameters"
# ---------------------------------------------------------------------------------------------


def claim_gb_per_billion() -> list[str]:
    """Weights per billion parameters in each 4-bit format (dense catalog models), and whole footprints."""
    catalog = load_catalog()
    dense = [e.spec() for e in catalog.values() if not e.spec().is_moe]
    out = [
        '### "4-bit takes about 0.7 GB per billion parameters"',
        "",
        f"Planner weights of the {len(dense)} dense catalog models, in GB per billion parameters "
        "(everything the format stores, the tensors it keeps at higher precision included):",
        "",
        "| format | median | lowest | highest |",
        "|---|---:|---:|---:|",
    ]
    medians = []
    for fid in FOUR_BIT:
        fmt = parse_format(fid)
        ratios = []
        for spec in dense:
            try:
                ratios.append(fmt.weights(spec).total_bytes / spec.total_parameters)  # bytes per parameter
            except PlannerError:
                continue
        mid = median(ratios)
        medians.append(mid)
        out.append(f"| `{fid}` | {mid:.2f} | {min(ratios):.2f} | {max(ratios):.2f} |")
    from planner.engines import estimate

    out += [
        "",
        f"Whole GPU footprint in Q4_K_M on llama.cpp at {REFERENCE_CONTEXT:,} tokens (weights, 16-bit KV cache, "
        "compute buffers, CUDA context):",
        "",
        "| model | parameters (billions) | weights GB | total GB | total GB per billion |",
        "|---|---:|---:|---:|---:|",
    ]
    totals = []
    for model_id in REFERENCE_MODELS:
        spec = catalog[model_id].spec()
        est = estimate(spec, parse_format("q4_k_m"), "llama.cpp", RunSettings(context=REFERENCE_CONTEXT))
        per_billion = est.total / spec.total_parameters
        totals.append(per_billion)
        out.append(
            f"| {model_id} | {spec.total_parameters / 1e9:.2f} | {_gb(est.weights.bytes)} | {_gb(est.total)} | "
            f"{per_billion:.2f} |"
        )
    low, high = min(medians), max(medians)
    relation = "within" if low <= 0.7 <= high else ("above" if high < 0.7 else "below")
    out += [
        "",
        f"**Verdict:** the weights alone take {low:.2f}-{high:.2f} GB per billion parameters (medians of the "
        f"five 4-bit formats), so 0.7 is {relation} that range"
        + (
            f"; it is closer to the whole footprint at {REFERENCE_CONTEXT:,} tokens, "
            f"{min(totals):.2f}-{max(totals):.2f} GB per billion for the 8B-70B models above (the KV cache and "
            "buffers weigh most on small models)."
            if relation != "within"
            else "."
        ),
        "",
    ]
    return out


# ---------------------------------------------------------------------------------------------
# 2. "A 24 GB card runs 7-8B at 16-bit and 30-32B at 4-bit with room for a long conversation"
# ---------------------------------------------------------------------------------------------


def _context_row(model_id: str, fid: str, engine: str, kv: str, budget) -> tuple[str, int | None, bool]:
    spec = load_catalog()[model_id].spec()
    settings = RunSettings(kv_dtype_k=kv, kv_dtype_v=kv)
    limit = max_context(spec, parse_format(fid), engine, settings, budget)
    weights = limit.fit.estimate.weights.bytes
    kv_label = limit.fit.estimate.kv_dtype
    if limit.value is None:
        shown = "does not fit"
    else:
        shown = f"{limit.value:,}" + (" (the model's limit)" if limit.capped else "")
    line = f"| {model_id} | `{fid}` | {engine} | {kv_label} | {_gb(weights)} | {shown} |"
    return line, limit.value, limit.capped


def claim_24gb_card() -> list[str]:
    """Max context at batch 1 on the catalog RTX 4090 for 7-8B at 16-bit and 30-32B at 4-bit."""
    budget = budget_from_gpu(CARD)
    card = budget.devices[0]
    fit_target = int(default("llama.cpp", "fit_target_mib")) * MIB
    utilization = float(default("vllm", "gpu_memory_utilization"))
    out = [
        '### "A 24 GB card runs 7-8B at 16-bit and 30-32B at 4-bit with room for a long conversation"',
        "",
        f'The card: {card.name}, {_gb(card.capacity_bytes)} GB as NVML reports it (the box\'s "24 GB" is 24 x 2^30 '
        "bytes). Largest context at batch 1 that fits, from the planner's max-context search with each engine's "
        f"own margin (llama.cpp keeps its --fit-target of {_gb(fit_target)} GB free, vLLM uses "
        f"{utilization:g} of the memory, transformers keeps none); "
        f'"long" is taken as {LONG_CONTEXT:,} tokens:',
        "",
        "| model | format | engine | KV cache | weights GB | max context (tokens) |",
        "|---|---|---|---|---:|---:|",
    ]
    sixteen: list[int | None] = []
    for model_id, fid, engine in SIXTEEN_BIT:
        line, value, _ = _context_row(model_id, fid, engine, "auto", budget)
        out.append(line)
        sixteen.append(value)
    four: dict[str, list[int | None]] = {"auto": [], "q8_0": []}
    dense_four: list[int | None] = []
    moe_four: list[int | None] = []
    moe_names: list[str] = []
    for model_id, fid, engine, kv in FOUR_BIT_LARGE:
        line, value, _ = _context_row(model_id, fid, engine, kv, budget)
        out.append(line)
        four[kv].append(value)
        spec = load_catalog()[model_id].spec()
        if kv == "auto":
            (moe_four if spec.is_moe else dense_four).append(value)
            if spec.is_moe:
                moe_names.append(f"{model_id} ({spec.active_parameters / 1e9:.1f}B active)")

    def span(values: Sequence[int | None]) -> str:
        fitted = [v for v in values if v is not None]
        if not fitted:
            return "nothing fits"
        if min(fitted) == max(fitted):
            return f"{fitted[0]:,} tokens"
        return f"{min(fitted):,}-{max(fitted):,} tokens"

    long_16 = all(v is not None and v >= LONG_CONTEXT for v in sixteen)
    long_4 = all(v is not None and v >= LONG_CONTEXT for v in dense_four)
    long_q8 = all(v is not None and v >= LONG_CONTEXT for v in four["q8_0"])
    out += [
        "",
        f"**Verdict:** 7-8B at 16-bit fits with {span(sixteen)} of context "
        + ("(long on every engine)" if long_16 else "(not long on every engine)")
        + f"; dense 30-32B at 4-bit fits with {span(dense_four)} and a 16-bit KV cache, "
        + ("which is long" if long_4 else f"short of {LONG_CONTEXT:,}")
        + f"; with llama.cpp's q8_0 KV cache it reaches {span(four['q8_0'])}"
        + (" (long)" if long_q8 else "")
        + f"; the mixture-of-experts {', '.join(moe_names)} reaches {span(moe_four)}.",
        "",
    ]
    return out


# ---------------------------------------------------------------------------------------------
# 3. "8-bit loses under 0.5%"  4. "2-bit loses 10-20% or more"
# ---------------------------------------------------------------------------------------------


def _loss_table(rows: Sequence[FormatQuality]) -> list[str]:
    out = [
        "| scheme | measured on | size (B) | benchmark | kept % | loss % | source |",
        "|---|---|---:|---|---:|---:|---|",
    ]
    for r in rows:
        out.append(
            f"| `{_scheme(r)}` | {_short(r.model)} | {r.params_billion:g} | {_short(r.benchmark)} | {r.value:.2f} | "
            f"{100 - r.value:.2f} | {_link(r)} |"
        )
    return out


def _ratio_rows(format_ids: Sequence[str]) -> list[FormatQuality]:
    rows = load_format_quality().rows
    return [r for r in rows if r.format in format_ids and r.metric in ("ppl_ratio", "ppl_delta_pct")]


def _ppl_text(rows: Sequence[FormatQuality]) -> str:
    parts = []
    for r in rows:
        pct = (r.value - 1) * 100 if r.metric == "ppl_ratio" else r.value
        parts.append(f"`{r.format}` +{pct:.2f}% on {_short(r.model, 40)} ({_link(r)})")
    return "; ".join(parts)


def claim_8bit() -> list[str]:
    """Every published 8-bit accuracy figure against the 0.5% claim."""
    rows = _accuracy_rows(8)
    losses = [100 - r.value for r in rows]
    under = [r for r in rows if 100 - r.value < EIGHT_BIT_LOSS]
    worst = sorted(rows, key=lambda r: r.value)[:3]
    big = [r for r in rows if r.params_billion >= 7]
    big_under = [r for r in big if 100 - r.value < EIGHT_BIT_LOSS]
    big_losses = [100 - r.value for r in big]
    small = [r for r in rows if r.params_billion < 7]
    out = [
        f'### "8-bit loses under {EIGHT_BIT_LOSS:g}%"',
        "",
        f"Every published 8-bit accuracy figure in `data/quality/formats.json` ({len(rows)} rows; loss = 100 - "
        "kept, in percent of the 16-bit score; negative: the 8-bit model scored higher):",
        "",
        *_loss_table(rows),
        "",
        f"llama.cpp Q8_0 perplexity against 16-bit: {_ppl_text(_ratio_rows(('q8_0',)))}.",
        "",
        f"**Verdict:** {len(under)} of {len(rows)} figures lose under {EIGHT_BIT_LOSS:g}%; losses range "
        f"{min(losses):.2f}% to {max(losses):.2f}%. On models of 7B and more, {len(big_under)} of {len(big)} lose under "
        f"{EIGHT_BIT_LOSS:g}%, the median loss is {median(big_losses):.2f}% and the largest {max(big_losses):.2f}%"
        + (
            f"; the {len(small)} small-model figure(s) (under 7B) reach {max(100 - r.value for r in small):.2f}%"
            if small
            else ""
        )
        + ". The largest: "
        + "; ".join(
            f"{100 - r.value:.2f}% for `{_scheme(r)}` on {_short(r.model, 40)} ({r.params_billion:g}B)"
            for r in worst
        )
        + f". So 8-bit is close to lossless on 7B and larger models, but 'under {EIGHT_BIT_LOSS:g}%' holds only "
        + (
            "for most"
            if len(big_under) * 4 >= len(big) * 3
            else "for about half"
            if len(big_under) * 2 >= len(big)
            else "for a minority"
        )
        + " of the published figures.",
        "",
        f"Sources: {_sources(rows)}.",
        "",
    ]
    return out


def claim_2bit() -> list[str]:
    """Every published 2-bit accuracy figure against the 10-20% claim, grouped by scheme."""
    rows = _accuracy_rows(2)
    low, high = TWO_BIT_LOSS
    groups: dict[str, list[float]] = {}
    gguf: set[str] = set()
    for r in rows:
        groups.setdefault(_scheme(r), []).append(100 - r.value)
        if r.family == "gguf":
            gguf.add(_scheme(r))
    out = [
        '### "2-bit loses 10-20% or more"',
        "",
        f"Every published 2-bit accuracy figure ({len(rows)} rows):",
        "",
        *_loss_table(rows),
        "",
        f"llama.cpp Q2_K perplexity against 16-bit: {_ppl_text(_ratio_rows(('q2_k',)))}.",
        "",
        "| scheme | figures | loss % (lowest-highest) | within 10-20% | above 20% |",
        "|---|---:|---|---:|---:|",
    ]
    for scheme, losses in groups.items():
        within = sum(low <= x <= high for x in losses)
        above = sum(x > high for x in losses)
        out.append(
            f"| `{scheme}` | {len(losses)} | {min(losses):.2f}-{max(losses):.2f} | {within} | {above} |"
        )
    everything = [x for losses in groups.values() for x in losses]
    below = [s for s, losses in groups.items() if min(losses) < low]
    plain_groups = [losses for scheme, losses in groups.items() if scheme not in gguf]
    plain_low = min(x for losses in plain_groups for x in losses)
    plain = (
        f"Plain 2-bit GPTQ, AWQ and HQQ weights lose {plain_low:.2f}% or more in every published figure."
        if plain_groups
        else ""
    )
    out += [
        "",
        f"**Verdict:** {sum(x >= low for x in everything)} of {len(everything)} figures lose {low:g}% or more "
        f"({sum(x > high for x in everything)} more than {high:g}%); losses range {min(everything):.2f}% to "
        f"{max(everything):.2f}%. "
        + (
            f"Below {low:g}% only with {', '.join(f'`{s}`' for s in below)} (llama.cpp's k-quant mix). "
            if below
            else ""
        )
        + plain,
        "",
        f"Sources: {_sources(rows)}.",
        "",
    ]
    return out


def render() -> str:
    """The whole section, markers included."""
    lines = [
        START,
        "<!-- generated by `python -m scripts.claims` from the planner and data/quality; do not edit by hand -->",
        "## Claims checked",
        "",
        "Common rules of thumb, each set against the planner's arithmetic and the published figures it ships "
        "with. GB means 10^9 bytes throughout this section; quality losses are in percent of the 16-bit score.",
        "",
        *claim_gb_per_billion(),
        *claim_24gb_card(),
        *claim_8bit(),
        *claim_2bit(),
        END,
    ]
    return "\n".join(lines)


def update(text: str, section: str) -> str:
    """``text`` with this script's README section replaced by ``section`` (appended when it has none)."""
    return replace_section(text, section, START, END)


def main(argv: Sequence[str] | None = None) -> int:
    """Write, check or print the section; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 when README.md's section is out of date")
    mode.add_argument("--print", action="store_true", help="print the section instead of writing it")
    args = parser.parse_args(argv)
    section = render()
    if args.print:
        print(section)
        return 0
    return write_or_check(
        README, section, START, END, check=args.check, name="claims", command="python -m scripts.claims"
    )


if __name__ == "__main__":
    raise SystemExit(main())
