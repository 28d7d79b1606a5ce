"""What can I run: every catalog model x format that fits the sidebar's GPU, ranked by expected quality.

Every figure comes from :func:`planner.recommend.recommend` (published scores and retention from
``data/quality``, memory from the engines, speed from the roofline estimate); this page only lays
them out, in GiB (2**30 bytes), with the sources one click away.
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
    recommend,
)
from ui.budget import plan_budget
from ui.sidebar import current_plan, planned_settings

GIB_COLUMN = st.column_config.NumberColumn(format="%.2f")
BEST_STYLE = "background-color: rgba(47, 111, 79, 0.25); font-weight: bold"


def label(c: Candidate) -> str:
    """One line naming a candidate."""
    rank = f"#{c.rank}" if c.rank else "unranked"
    return f"{rank}: {c.model_id} · {c.format_id} on {c.engine}"


def table(result: Recommendation, with_unranked: bool) -> pd.DataFrame:
    """Every fitting pair as a row (ranked first); the best pick is flagged."""
    rows = []
    for c in result.candidates if with_unranked else result.ranked:
        q = c.quality
        rows.append(
            {
                "best": c is result.best,
                "rank": c.rank,
                "model": c.model_id,
                "params (B)": c.parameters / 1e9,
                "format": c.format_id,
                "engine": c.engine,
                "bit width": c.bit_width,
                "bits/weight": c.bits_per_weight,
                "expected": q.expected,
                "expected low": q.expected_low,
                "expected high": q.expected_high,
                "score": None if q.score is None else q.score.value,
                "retention %": None if q.retention_used is None else 100 * q.retention_used,
                "needs GiB": to_gib(c.fit.required_bytes),
                "usable GiB": to_gib(c.fit.usable_bytes),
                "headroom GiB": to_gib(c.fit.headroom_bytes),
                "decode tok/s": None if c.speed is None else c.speed.decode_tokens_per_s,
                "why unranked": q.reason,
            }
        )
    return pd.DataFrame(rows)


def highlight_best(row: pd.Series) -> list[str]:
    """Styler rule: the best pick's row stands out."""
    return [BEST_STYLE if row["best"] else ""] * len(row)


def show_evidence(c: Candidate, result: Recommendation) -> None:
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
    st.markdown(f"**Retention used:** {used} ({ret.basis}). {ret.note}")
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
            column_config={"source": st.column_config.LinkColumn()},
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


plan = current_plan()
st.title("What can I run")
st.caption(
    "Every catalog model in a spread of formats, on the sidebar's GPU, context, batch and engine. Ranked by "
    "expected quality: the model's published benchmark score x the format's published accuracy retention at "
    "that model size. Memory in GiB (2^30 bytes). The sidebar's model and weight format are not used here."
)
planned_settings(plan, "a ranking")

with st.expander("Ranking options", expanded=False):
    cols = st.columns(4)
    benchmark = cols[0].selectbox(
        "Rank by", list(BENCHMARKS), index=list(BENCHMARKS).index(DEFAULT_BENCHMARK), key="rec_benchmark",
        bind="query-params", format_func=benchmark_label,
        help="Scores from different benchmarks are never mixed; models without this one are listed unranked",
    )  # fmt: skip
    families = cols[1].multiselect("Family", catalog_families(), key="rec_family", bind="query-params")
    licenses = cols[2].multiselect("License", catalog_licenses(), key="rec_license", bind="query-params")
    min_context = cols[3].number_input(
        "Min. model context (tokens)", 0, 10_000_000, 0, step=1024, key="rec_min_context", bind="query-params",
        help="Keep models whose max_position_embeddings is at least this (0: no filter)",
    )  # fmt: skip
    with_unranked = st.toggle(
        "Also list pairs without a published score or retention", value=True, key="rec_unranked"
    )

try:
    budget = plan_budget(plan)
    filters = Filters(tuple(families), tuple(licenses), int(min_context) or None)
    result = recommend(budget, plan.settings, plan.engine_id, filters=filters, benchmark=benchmark)
except PlannerError as exc:
    st.error(f"**No ranking:** {exc}")
    st.stop()

settings = result.settings
st.markdown(
    f"**{budget.label}**, context {settings.context:,} x batch {settings.batch}, engine: "
    f"{result.engine or 'each format on its own'}; formats tried: {', '.join(f'`{f}`' for f in result.formats)}."
)
for note in result.notes:
    st.caption(note)

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
        f"{benchmark_label(result.benchmark)} {q.expected:.1f} ({q.score.value:g} x {100 * q.retention_used:.2f}%), "
        f"needs {format_gib(best.fit.required_bytes)} of {format_gib(best.fit.usable_bytes)}."
    )
    cols = st.columns(4)
    cols[0].metric(
        "Expected score", f"{q.expected:.1f}", help=f"range {q.expected_low:.1f}-{q.expected_high:.1f}"
    )
    cols[1].metric("Needs", format_gib(best.fit.required_bytes))
    cols[2].metric("Headroom", format_gib(best.fit.headroom_bytes))
    cols[3].metric(
        "Decode (estimate)", "n/a" if best.speed is None else f"{best.speed.decode_tokens_per_s:,.1f} tok/s"
    )

st.subheader("16-bit vs a larger model at 4-bit")
trade = result.trade_off
if trade.sixteen is not None and trade.larger_four is not None:
    cols = st.columns(2)
    for col, side, title in (
        (cols[0], trade.sixteen, "Best 16-bit"),
        (cols[1], trade.larger_four, "Best 4-bit, larger"),
    ):
        col.metric(
            f"{title}: {side.model_id} ({side.parameters / 1e9:.1f}B, {side.format_id})",
            f"{side.quality.expected:.1f}",
            delta=None if side is trade.sixteen else f"{trade.difference:+.1f} points",
            help=f"needs {format_gib(side.fit.required_bytes)}",
        )
st.info(trade.text)

st.subheader("Best pick at each bit width")
st.dataframe(
    pd.DataFrame(
        [
            {
                "bit width": p.bit_width,
                "model": "—" if p.pick is None else p.pick.model_id,
                "format": "—" if p.pick is None else p.pick.format_id,
                "expected": None if p.pick is None else p.pick.quality.expected,
                "needs GiB": None if p.pick is None else to_gib(p.pick.fit.required_bytes),
                "fitting pairs": p.fitting,
                "note": p.note,
            }
            for p in result.by_bit_width
        ]
    ),
    hide_index=True,
    column_config={"needs GiB": GIB_COLUMN, "expected": st.column_config.NumberColumn(format="%.1f")},
)

st.subheader(f"Everything that fits ({len(result.ranked)} ranked, {len(result.unranked)} unranked)")
st.caption("Click a column header to sort. The best pick is highlighted; unranked pairs say why.")
frame = table(result, with_unranked)
if frame.empty:
    st.info("Nothing from the catalog fits this budget.")
else:
    st.dataframe(
        frame.style.apply(highlight_best, axis=1),
        hide_index=True,
        column_config={
            "best": st.column_config.CheckboxColumn("best"),
            "params (B)": st.column_config.NumberColumn(format="%.2f"),
            "bits/weight": st.column_config.NumberColumn(format="%.2f"),
            "expected": st.column_config.NumberColumn(format="%.2f"),
            "expected low": st.column_config.NumberColumn(format="%.2f"),
            "expected high": st.column_config.NumberColumn(format="%.2f"),
            "retention %": st.column_config.NumberColumn(format="%.2f"),
            "needs GiB": GIB_COLUMN,
            "usable GiB": GIB_COLUMN,
            "headroom GiB": GIB_COLUMN,
            "decode tok/s": st.column_config.NumberColumn(format="%.1f"),
        },
    )

st.subheader("Evidence")
shown = list(result.candidates if with_unranked else result.ranked)
if shown:
    choice = st.selectbox(
        "Pair", range(len(shown)), format_func=lambda i: label(shown[i]), key="rec_evidence",
        help="The score, the retention rows and the memory behind one row, with links to the sources",
    )  # fmt: skip
    show_evidence(shown[choice], result)

with st.expander("Assumptions, and what was left out"):
    for text in result.assumptions:
        st.markdown(f"- {text}")
    if result.no_fit:
        st.markdown(f"**Nothing fits for {len(result.no_fit)} model(s):** " + ", ".join(result.no_fit))
    for e in result.excluded:
        st.markdown(f"- left out `{e.model_id}`: {e.reason}")
    st.caption(f"{len(result.formats)} formats x the catalog considered in {result.elapsed_s:.2f} s.")
