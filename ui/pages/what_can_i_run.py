"""What can I run: for the sidebar's GPU(s) and context, the largest model at each bit width, then every
fitting (model, format) ranked by expected quality.

Every figure comes from :func:`planner.recommend.recommend` (published scores and retention from
``data/quality``, memory from the engines, speed from the roofline estimate); this page only lays
them out, in GiB (2**30 bytes), with the sources one click away. The ranking is computed before
anything is drawn (under a spinner, in the slot the results occupy), so a changed input never sits
next to the previous answer.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from planner import PlannerError
from planner.hardware.units import format_gib, to_gib
from planner.recommend import (
    BENCHMARKS,
    DEFAULT_BENCHMARK,
    Candidate,
    Filters,
    Recommendation,
    benchmark_label,
    catalog_families,
    catalog_licenses,
)
from planner.recommend.filters import ARCHITECTURES, BIT_WIDTHS, MODALITIES
from planner.recommend.ranking import SORTS, sorted_candidates
from ui.budget import plan_budget
from ui.cells import DASH
from ui.recommendation import cached_figure, cached_recommendation, derived
from ui.sidebar import current_plan, planned_settings

SORT_LABELS = {"quality": "expected quality", "speed": "decode speed", "headroom": "headroom"}
KIND_LABELS = {"text": "text", "vision": "vision", "dense": "dense", "moe": "MoE"}
BASIS_LABELS = {
    "accuracy": "published",
    "kld": "~ from KLD",
    "baseline": "16-bit",
    "perplexity": "ppl only",
    "none": DASH,
}
#: Columns shown in the everything-that-fits table, in order (the frame holds a few more for downloads).
SHOWN = (
    "rank", "model", "params (B)", "format", "engine", "expected", "retention", "needs GiB", "headroom GiB",
    "decode tok/s", "why unranked",
)  # fmt: skip


def label(c: Candidate) -> str:
    """One line naming a candidate."""
    rank = f"#{c.rank}" if c.rank else "unranked"
    return f"{rank}: {c.model_id} · {c.format_id} on {c.engine}"


def expected_text(c: Candidate | None) -> str:
    """The expected score as shown: one decimal, '~' when the retention was translated from a KLD, a dash for none."""
    if c is None or c.quality.expected is None:
        return DASH
    mark = "~" if c.quality.retention.basis == "kld" else ""
    return f"{mark}{c.quality.expected:.1f}"


def retention_text(c: Candidate) -> str:
    """The retention used as shown: two decimals in percent, '~' when translated from a KLD, a dash for none."""
    used = c.quality.retention_used
    if used is None:
        return DASH
    return ("~" if c.quality.retention.basis == "kld" else "") + f"{100 * used:.2f}%"


def widths_table(result: Recommendation) -> pd.DataFrame:
    """The answer first: per bit width, the largest model that fits, its expected score and the context it leaves."""
    rows = []
    for p in result.by_bit_width:
        c, limit, pick = p.largest, p.largest_context, p.pick
        context = DASH
        if limit is not None and limit.value is not None:
            context = f"{limit.value:,}" + (" (max)" if limit.capped else "")
        rows.append(
            {
                "bits": f"{p.bit_width}-bit",
                "largest model that fits": DASH if c is None else c.model_id,
                "params": DASH if c is None else f"{c.parameters / 1e9:.1f}B",
                "format": DASH if c is None else c.format_id,
                "expected": expected_text(c),
                "needs": DASH if c is None else format_gib(c.fit.required_bytes),
                "context left": context,
                "best expected at this width": DASH
                if pick is None
                else f"{expected_text(pick)}: {pick.model_id} · {pick.format_id}",
            }
        )
    return pd.DataFrame(rows)


def listing(result: Recommendation, with_unranked: bool) -> tuple[Candidate, ...]:
    """The pairs shown, in the chosen order (ranked first), sorted once per answer."""

    def make() -> tuple[Candidate, ...]:
        shown = sorted_candidates(result.ranked, result.sort)
        return shown + sorted_candidates(result.unranked, result.sort) if with_unranked else shown

    return derived(result, f"listing {with_unranked}", make)


def table(result: Recommendation, with_unranked: bool) -> pd.DataFrame:
    """Every fitting pair as a row, in the chosen order (ranked first); missing figures are NaN, shown blank."""
    return derived(result, f"table {with_unranked}", lambda: _table(listing(result, with_unranked)))


def _table(shown: tuple[Candidate, ...]) -> pd.DataFrame:
    rows = []
    for c in shown:
        q = c.quality
        rows.append(
            {
                "rank": c.rank,
                "model": c.model_id,
                "params (B)": c.parameters / 1e9,
                "format": c.format_id,
                "engine": c.engine,
                "bits": c.bit_width,
                "bits/weight": c.bits_per_weight,
                "expected": q.expected,
                "range": DASH if q.expected is None else f"{q.expected_low:.1f}-{q.expected_high:.1f}",
                "low": q.expected_low,
                "high": q.expected_high,
                "score": None if q.score is None else q.score.value,
                "score from": DASH if q.score is None else q.score.setting,
                "retention %": None if q.retention_used is None else 100 * q.retention_used,
                "retention": retention_text(c),
                "retention from": BASIS_LABELS.get(q.retention.basis, q.retention.basis),
                "needs GiB": to_gib(c.fit.required_bytes),
                "headroom GiB": to_gib(c.fit.headroom_bytes),
                "decode tok/s": None if c.speed is None else c.speed.decode_tokens_per_s,
                "kind": f"{c.modality}, {c.architecture}",
                "why unranked": q.reason or DASH,
            }
        )
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["rank"] = frame["rank"].astype("Int64")
    return frame


def show_evidence(c: Candidate) -> None:
    """Score, retention rows, memory and speed behind one pair, with links to every source."""
    q = c.quality
    if q.reason:
        st.warning(f"Not ranked: {q.reason}")
    score = q.score
    if score is not None:
        st.markdown(
            f"**Score:** {score.benchmark} **{score.value:g}** ({score.setting}; checkpoint `{score.checkpoint}`), "
            f"[source]({score.source}), {score.where}."
        )
        if q.score_note:
            st.caption(q.score_note)
    ret = q.retention
    used = "none" if q.retention_used is None else f"{100 * q.retention_used:.2f}%"
    approx = " (approximate: translated from a KL divergence)" if ret.basis == "kld" else ""
    st.markdown(f"**Retention used:** {used}{approx}. {ret.note}")
    if ret.translation is not None:
        t = ret.translation
        st.caption(
            f"KLD-to-accuracy anchors: {t.source.title} ({t.model}, {t.benchmark}); "
            f"[anchors]({t.source.url}), reason it is monotone: [{t.justification.title}]({t.justification.url})."
        )
    if ret.evidence:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "value": r.value,
                        "metric": r.metric,
                        "measured on": r.model,
                        "size (B)": r.params_billion,
                        "benchmark": r.benchmark,
                        "where": r.where,
                        "source": r.source.url,
                    }
                    for r in ret.evidence
                ]
            ),
            hide_index=True,
            column_config={
                "value": st.column_config.NumberColumn(format="%.4g"),
                "size (B)": st.column_config.NumberColumn(format="%.4g"),
                "source": st.column_config.LinkColumn(),
            },
        )
    est = c.estimate
    st.markdown(
        f"**Memory** ({c.engine}): weights {format_gib(est.weights.bytes)} + KV cache {format_gib(est.kv_cache.bytes)} + "
        f"activations {format_gib(est.activations.bytes)} + overhead {format_gib(est.overhead.bytes)} = "
        f"**{format_gib(c.fit.required_bytes)}** of {format_gib(c.fit.usable_bytes)} usable "
        f"(headroom {format_gib(c.fit.headroom_bytes)}). {c.fit.allowance.rule}."
    )
    if c.speed is not None:
        s = c.speed
        st.markdown(
            f"**Decode (estimate):** ~{s.decode_tokens_per_s:,.1f} tokens/s "
            f"[{s.decode_tokens_per_s_low:,.1f}-{s.decode_tokens_per_s_high:,.1f}], {s.bound}-bound."
        )
    else:
        st.caption(
            "No speed estimate: the budget has no catalog GPU behind it (custom size or unmatched GPU)."
        )
    for note in c.notes:
        st.caption(note)


def draw(result: Recommendation, with_unranked: bool) -> None:
    """Lay out one ranking: the per-width answer, the chart, the pick, the trade-offs, the table, the evidence."""
    budget, settings = result.budget, result.settings
    st.markdown(
        f"**{budget.label}**, context {settings.context:,} x batch {settings.batch}, engine: "
        f"{result.engine or 'each format on its own'}; ranked by **{result.benchmark_label}**."
    )
    st.subheader("The largest model at each bit width")
    st.dataframe(
        widths_table(result),
        hide_index=True,
        width="stretch",
        column_config={
            "bits": st.column_config.TextColumn(width=55),
            "largest model that fits": st.column_config.TextColumn(width=235),
            "params": st.column_config.TextColumn(width=55),
            "format": st.column_config.TextColumn(width=80),
            "expected": st.column_config.TextColumn(width=65),
            "needs": st.column_config.TextColumn(width=80),
            "context left": st.column_config.TextColumn(width=95),
            "best expected at this width": st.column_config.TextColumn(width=255),
        },
    )
    st.caption(
        "Largest = most parameters among the fitting options at that width, ranked or not; max context = the "
        "longest context it fits with on this budget (same engine and batch). Expected = published score x "
        "published retention; ~ marks a retention translated from a KL divergence (approximate); "
        f"{DASH} = no published score or retention (the table below says why)."
    )

    best = result.best
    if best is None:
        st.warning(
            "Nothing with a published score and a published accuracy retention fits this budget. "
            + (
                f"{len(result.unranked)} fitting pair(s) without those are listed below."
                if result.unranked
                else "Try a larger GPU, more GPUs, a shorter context or another engine."
            )
        )
    else:
        q = best.quality
        st.success(
            f"**Best pick: {best.model_id} in `{best.format_id}`** on {best.engine}: expected "
            f"{result.benchmark_label} {expected_text(best)} ({q.score.value:g} x {100 * q.retention_used:.2f}%), "
            f"needs {format_gib(best.fit.required_bytes)} of {format_gib(best.fit.usable_bytes)}."
        )
        cols = st.columns(4)
        cols[0].metric(
            "Expected score", expected_text(best), help=f"range {q.expected_low:.1f}-{q.expected_high:.1f}"
        )
        cols[1].metric("Needs", format_gib(best.fit.required_bytes))
        cols[2].metric("Headroom", format_gib(best.fit.headroom_bytes))
        cols[3].metric(
            "Decode (estimate)",
            DASH if best.speed is None else f"{best.speed.decode_tokens_per_s:,.1f} tok/s",
        )

    st.subheader("Expected quality against memory")
    if result.ranked:
        st.plotly_chart(cached_figure(result), width="stretch", key="rec_chart")
    else:
        st.info("No ranked pair to plot.")
    for trade in result.trade_offs:
        if trade.larger_wins is None:
            st.caption(trade.text)
        elif trade.larger_wins:
            st.info(trade.text)
        else:
            st.warning(trade.text)

    st.subheader(f"Everything that fits ({len(result.ranked)} ranked, {len(result.unranked)} unranked)")
    st.caption(
        f"Sorted by {SORT_LABELS[result.sort]} (the rank is always by expected quality); click a header to "
        f"re-sort. GiB = 2^30 bytes. Blank = not published (see 'why unranked')."
    )
    frame = table(result, with_unranked)
    if frame.empty:
        st.info("Nothing from the catalog fits this budget.")
    else:
        st.dataframe(
            frame,
            hide_index=True,
            width="stretch",
            column_order=SHOWN,
            column_config={
                "rank": st.column_config.NumberColumn(format="%d", width=45),
                "model": st.column_config.TextColumn(width=245),
                "params (B)": st.column_config.NumberColumn("params", format="%.1fB", width=55),
                "format": st.column_config.TextColumn(width=75),
                "engine": st.column_config.TextColumn(width=80),
                "expected": st.column_config.NumberColumn(format="%.1f", width=62),
                "retention": st.column_config.TextColumn(width=70, help="~ = from a KL divergence"),
                "needs GiB": st.column_config.NumberColumn(format="%.2f", width=70),
                "headroom GiB": st.column_config.NumberColumn("headroom", format="%.2f", width=70),
                "decode tok/s": st.column_config.NumberColumn("tok/s", format="%.0f", width=45),
                "why unranked": st.column_config.TextColumn(width=105),
            },
        )

    st.subheader("Evidence")
    shown = listing(result, with_unranked)
    if shown:
        choice = st.selectbox(
            "Pair", range(len(shown)), format_func=lambda i: label(shown[i]), key="rec_evidence",
            help="The score, the retention rows and the memory behind one row, with links to the sources",
        )  # fmt: skip
        show_evidence(shown[min(choice, len(shown) - 1)])

    with st.expander("Assumptions, and what was left out"):
        for text in result.assumptions:
            st.markdown(f"- {text}")
        for note in result.notes:
            st.caption(note)
        if result.no_fit:
            st.markdown(f"**Nothing fits for {len(result.no_fit)} model(s):** " + ", ".join(result.no_fit))
        for e in result.excluded:
            st.markdown(f"- left out `{e.model_id}`: {e.reason}")
        st.caption(
            f"{len(result.formats)} formats x the catalog ranked in {result.elapsed_s:.2f} s (then cached)."
        )


plan = current_plan()
st.title("What can I run")
st.caption(
    "Which model fits the sidebar's GPU(s), at which bit width, with how much context left, ranked by expected "
    "quality: the model's published benchmark score x the format's published accuracy retention at that model "
    "size. Memory in GiB (2^30 bytes). The sidebar's model and weight format are not used here."
)
settings = planned_settings(plan, "a ranking")

cols = st.columns([1.2, 1.6, 1, 1.2, 1])
benchmark = cols[0].selectbox(
    "Rank by", list(BENCHMARKS), index=list(BENCHMARKS).index(DEFAULT_BENCHMARK), key="rec_benchmark",
    bind="query-params", format_func=benchmark_label,
    help="MMLU-Pro: the publisher's figure, else the Open LLM Leaderboard v2's; scores from different "
    "benchmarks are never mixed, and models without this one are listed unranked",
)  # fmt: skip
bits = cols[1].multiselect(
    "Bit widths", [str(w) for w in BIT_WIDTHS], key="rec_bits", bind="query-params", format_func=lambda w: f"{w}-bit",
    help="Keep only formats of these nominal widths (none: all)",
)  # fmt: skip
sort = cols[2].selectbox(
    "Sort by", list(SORTS), key="rec_sort", bind="query-params", format_func=SORT_LABELS.get,
    help="Order of the list (the rank stays by expected quality)",
)  # fmt: skip
modalities = cols[3].multiselect(
    "Modality",
    list(MODALITIES),
    key="rec_modality",
    bind="query-params",
    format_func=KIND_LABELS.get,
    help="text: text in; vision: images and text in (the model carries a vision tower)",
)
architectures = cols[4].multiselect(
    "Dense / MoE", list(ARCHITECTURES), key="rec_arch", bind="query-params", format_func=KIND_LABELS.get
)
with st.expander("More filters, and Hub models", expanded=False):
    more = st.columns(4)
    families = more[0].multiselect("Family", catalog_families(), key="rec_family", bind="query-params")
    licenses = more[1].multiselect("License", catalog_licenses(), key="rec_license", bind="query-params")
    min_context = more[2].number_input(
        "Min. model context (tokens)", 0, 10_000_000, 0, step=1024, key="rec_min_context", bind="query-params",
        help="Keep models whose max_position_embeddings is at least this (0: no filter)",
    )  # fmt: skip
    added = more[3].text_input(
        "Add Hub models", "", key="rec_add", bind="query-params", max_chars=400,
        placeholder="org/model, org/other",
        help="Hugging Face ids, comma-separated: read from the Hub and compared with the catalog "
        "(scored when a published score exists for the id)",
    )  # fmt: skip
    with_unranked = st.toggle(
        "Also list pairs without a published score or retention", value=True, key="rec_unranked"
    )

results = st.empty()
with results, st.spinner("Ranking every model and format that fits…"):
    try:
        budget = plan_budget(plan)
        filters = Filters(
            tuple(families),
            tuple(licenses),
            int(min_context) or None,
            tuple(int(b) for b in bits),
            tuple(modalities),
            tuple(architectures),
        )
        extra = tuple(dict.fromkeys(part.strip() for part in added.split(",") if part.strip()))
        answer = cached_recommendation(budget, settings, plan.engine_id, filters, benchmark, sort, extra)
        error = None
    except PlannerError as exc:
        answer, error = None, exc
with results.container():
    if error is not None:
        st.error(f"**No ranking:** {error}")
    else:
        draw(answer, with_unranked)
