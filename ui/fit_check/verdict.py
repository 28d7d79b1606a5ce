"""The verdict (fits or not, with headroom over all cards and the fullest card's) and the headline numbers."""

from __future__ import annotations

import streamlit as st

from planner.fit.answer import FitAnswer
from planner.hardware.units import format_gib
from planner.memory.estimate import MemoryEstimate, RunSettings


def tokens(n: int | None) -> str:
    """A token or sequence count for a metric."""
    return "none fits" if n is None else f"{n:,}"


def draw_verdict(answer: FitAnswer | None) -> None:
    """Fits / does not fit / will not run, with the numbers that say by how much."""
    if answer is None:
        return
    fit = answer.fit
    if fit.blockers:
        st.error("**Will not run here:** " + " ".join(fit.blockers))
    elif fit.fits:
        st.success(f"**Fits**, with {fit.headroom_text()}.")
    else:
        below = (
            "partial offload to the CPU, and other formats" if answer.offload is not None else "other formats"
        )
        st.error(f"**Does not fit:** {fit.headroom_text()}. Below: {below}.")


def draw_memory_metrics(est: MemoryEstimate, answer: FitAnswer | None) -> None:
    """Memory needed, usable by the engine, headroom and host RAM."""
    fit = answer.fit if answer is not None else None
    low, high = est.total_band
    cols = st.columns(4 if fit is not None else 2)
    cols[0].metric(
        "GPU memory needed",
        format_gib(fit.required_bytes if fit is not None else est.total),
        help=(
            f"Weights + KV cache + activations + overhead = {format_gib(est.total)} "
            f"(uncertainty band {format_gib(low)} to {format_gib(high)})"
            + (
                f"; {format_gib(fit.required_bytes)} counted against {est.engine}'s limit over "
                f"{fit.budget.count} GPU(s)"
                if fit is not None and fit.required_bytes != est.total
                else ""
            )
        ),
    )
    if fit is not None:
        cols[1].metric("Usable by the engine", format_gib(fit.usable_bytes), help=fit.allowance.rule)
        several = fit.budget.count > 1
        cols[2].metric(
            "Headroom" if fit.headroom_bytes >= 0 else "Short by",
            format_gib(abs(fit.headroom_bytes)),
            help="Usable minus needed"
            + (
                f", over all {fit.budget.count} GPUs; the fullest, {fit.tightest.name}, has "
                f"{format_gib(fit.tightest.headroom_bytes)} (negative: short) and decides the fit"
                if several
                else ""
            ),
        )
    cols[-1].metric(
        "Host RAM",
        format_gib(est.host_total),
        help="Memory the engine keeps on the CPU side (weights it leaves in host memory, buffers)",
    )


def draw_limits(answer: FitAnswer, settings: RunSettings) -> None:
    """Max context, max batch, and the roofline speed estimates."""
    fit = answer.fit
    cols = st.columns(4)
    mc, mb = answer.max_context, answer.max_batch
    cols[0].metric(
        f"Max context at batch {settings.batch}",
        tokens(mc.value),
        delta="model's maximum" if mc.capped else None,
        delta_color="off",
        delta_arrow="off",
        help="Largest tokens per sequence that fit (exact boundary: one more does not). "
        + " ".join(mc.notes),
    )
    cols[1].metric(
        f"Max batch at {settings.context:,} tokens",
        tokens(mb.value),
        delta="search cap" if mb.capped else None,
        delta_color="off",
        delta_arrow="off",
        help="Most concurrent sequences that fit at this context. " + " ".join(mb.notes),
    )
    speed = answer.speed
    if speed is not None:
        cols[2].metric(
            "Decode (roofline estimate)",
            f"{speed.decode_tokens_per_s:,.1f} tok/s",
            help=(
                f"Band {speed.decode_tokens_per_s_low:,.1f} to {speed.decode_tokens_per_s_high:,.1f} tokens/s, "
                f"{speed.bound}-bound; all {speed.batch} sequence(s) together "
                f"({speed.per_sequence_tokens_per_s:,.1f} per sequence)."
            ),
        )
        if speed.prefill_seconds is not None:
            cols[3].metric(
                f"Prefill of {speed.prompt_tokens:,} tokens (estimate)",
                f"{speed.prefill_seconds:,.2f} s",
                help=f"Band {speed.prefill_seconds_low:,.2f} to {speed.prefill_seconds_high:,.2f} s (roofline)",
            )
        else:
            cols[3].metric("Prefill (estimate)", "n/a", help=speed.assumptions[-1])
        st.caption(
            "Speeds are roofline estimates, not measurements: bytes over memory bandwidth and FLOPs over tensor "
            "throughput with empirical efficiency fractions (data/speed.json); assumptions under *Why these numbers*."
        )
    elif fit.budget.gpu is None:
        cols[2].metric("Decode (estimate)", "n/a", help="A custom size has no bandwidth figure")
        st.caption(
            "Speed needs a known GPU: pick a *Catalog GPU* in the sidebar for a decode/prefill estimate."
        )
    else:
        cols[2].metric("Decode (estimate)", "n/a", help="Not estimated: the plan does not fit")
