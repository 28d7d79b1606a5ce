"""Bit widths: the sidebar's model in every representative format, against the sidebar's GPU.

The table quantization guides print, computed for this model and card by
:func:`planner.fit.bit_widths.bit_width_table`; this page only lays it out, in GiB (2**30 bytes).
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from planner import PlannerError
from planner.fit.answer import rows_csv
from planner.fit.bit_widths import (
    RECORD_COLUMNS,
    BitWidthRow,
    bit_width_candidates,
    bit_width_table,
    quality_sources,
    quality_text,
)
from planner.formats import parse_format
from planner.hardware.units import format_gib, to_gib
from ui.budget import plan_budget
from ui.charts import bits_figure
from ui.markdown import escape
from ui.sidebar import current_plan, planned_model, planned_settings

GIB_COLUMN = st.column_config.NumberColumn(format="%.2f")


def fits_text(row: BitWidthRow) -> str:
    """The fit column: ``yes (pick)``, ``yes``, ``no`` or ``blocked`` (the engine would not start)."""
    if row.fit.fits:
        return "yes (pick)" if row.pick else "yes"
    return "blocked" if row.fit.blockers else "no"


plan = current_plan()
st.title("Bit widths")
st.caption(
    "One model in every representative weight format: memory, whether it fits, the accuracy each format keeps "
    "where it is published, and decode speed. Memory in GiB (2^30 bytes)."
)
spec = planned_model(plan)
settings = planned_settings(plan, "the table")

try:
    budget = plan_budget(plan)
except PlannerError as exc:
    st.error(f"**No GPU to compare against:** {exc}. Pick a catalog GPU or type a size in the sidebar.")
    st.stop()

try:
    selected = parse_format(plan.format_id).id
    candidates = bit_width_candidates(plan.engine_id, [selected])
    table = bit_width_table(spec, plan.engine_id, settings, budget, candidates)
except PlannerError as exc:
    st.error(f"**No table for {spec.name}:** {exc}")
    st.stop()

engine_text = plan.engine_id or "each format's usual engine (llama.cpp for GGUF, transformers otherwise)"
st.markdown(
    f"**{spec.name}** ({spec.total_parameters / 1e9:,.2f} B parameters) · engine: {engine_text} · "
    f"{settings.context:,} tokens x {settings.batch} sequence{'s' if settings.batch > 1 else ''}  \n{budget.label}"
)

if not table.rows:
    st.error("No candidate format could be planned for this model and engine; the reasons are listed below.")
else:
    pick = table.pick
    if pick is not None:
        st.success(
            f"**Most bits that fit: `{pick.format_id}`** on {pick.estimate.engine}, "
            f"{pick.bits_per_weight:.2f} bits per weight, {format_gib(pick.fit.required_bytes)} needed, "
            f"{format_gib(pick.fit.headroom_bytes)} headroom."
        )
    else:
        smallest = min(table.rows, key=lambda r: r.fit.required_bytes)
        st.error(
            f"**No format fits** at {settings.context:,} tokens x {settings.batch}: even `{smallest.format_id}` "
            f"needs {format_gib(smallest.fit.required_bytes)} of {format_gib(smallest.fit.usable_bytes)} usable "
            f"(short by {format_gib(-smallest.fit.headroom_bytes)}). Lower the context or batch, add GPUs, or use "
            "llama.cpp partial offload (the *Fit check* page plans it for a GGUF format)."
        )

    frame = pd.DataFrame(
        [
            {
                "format": r.format_id + (" *" if r.format_id == selected else ""),
                "engine": r.estimate.engine,
                "bits/weight": r.bits_per_weight,
                "total GiB": to_gib(r.estimate.total),
                "fits": fits_text(r),
                "headroom GiB": to_gib(r.fit.headroom_bytes),
                "accuracy kept": "-"
                if r.retention.value is None
                else ("~" if r.retention.basis == "kld" else "") + f"{r.retention.value:.1%}",
                "quality evidence": rec["quality_evidence"],
                "decode tok/s (est.)": "-" if r.speed is None else f"{r.speed.decode_tokens_per_s:,.1f}",
                "weights GiB": to_gib(r.estimate.weights.bytes),
                "KV cache GiB": to_gib(r.estimate.kv_cache.bytes),
                "activations GiB": to_gib(r.estimate.activations.bytes),
                "overhead GiB": to_gib(r.estimate.overhead.bytes),
                "quality source": "; ".join(title for title, _ in quality_sources(r.retention)) or "-",
            }
            for r, rec in ((r, r.record()) for r in table.rows)
        ]
    )
    small = {"width": "small"}
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        height=35 * (len(frame) + 1) + 3,
        column_config={
            "format": st.column_config.TextColumn(pinned=True, help="* the sidebar's format"),
            "bits/weight": st.column_config.NumberColumn(
                format="%.2f",
                help="Average stored bits per parameter (quantization scales included)",
                **small,
            ),
            "total GiB": st.column_config.NumberColumn(
                format="%.2f", help="GPU memory: weights + KV cache + activations + overhead", **small
            ),
            "weights GiB": GIB_COLUMN,
            "KV cache GiB": GIB_COLUMN,
            "activations GiB": GIB_COLUMN,
            "overhead GiB": GIB_COLUMN,
            "fits": st.column_config.TextColumn(help="pick: the most bits per weight that fits", **small),
            "headroom GiB": st.column_config.NumberColumn(
                format="%.2f", help="Usable by the engine minus needed; negative: short by that much"
            ),
            "accuracy kept": st.column_config.TextColumn(
                help="Median published accuracy retention vs 16-bit at the nearest measured model size; "
                "~ = read from a published KL divergence (approximate); - where none is published"
            ),
            "quality evidence": st.column_config.TextColumn(
                help="What the figure rests on; perplexity/KLD-only formats have no accuracy figure"
            ),
            "quality source": st.column_config.TextColumn(help="Publications; links under Quality sources"),
            "decode tok/s (est.)": st.column_config.TextColumn(
                help="Roofline estimate on a catalog GPU; - when it does not fit or the GPU is a custom size"
            ),
        },
    )
    for r in table.rows:
        if r.fit.blockers:
            st.caption(escape(f"{r.format_id} blocked: " + " ".join(r.fit.blockers)))
    st.caption(
        "\\* the sidebar's format. Fits: against what each engine lets itself use (llama.cpp keeps 1 GiB free, vLLM takes 90% of the "
        "card). Accuracy kept: published benchmark retention only, never extrapolated; where only perplexity or "
        "KL divergence is published the cell says so. Decode tok/s: a roofline estimate (data/speed.json), not a "
        "measurement."
    )

    st.subheader("Memory against bits per weight")
    points = [(r.format_id, r.bits_per_weight, r.estimate.total, r.fit.fits) for r in table.rows]
    st.plotly_chart(bits_figure(points, budget.capacity_bytes), key="bits")
    st.caption(
        f"Red line: GPU capacity {format_gib(budget.capacity_bytes)}"
        + (f" over {budget.count} GPUs" if budget.count > 1 else "")
        + "; green points fit, red ones do not (engine margins included)."
    )

    with st.expander("Quality sources and notes"):
        for r in table.rows:
            ret = r.retention
            links = ", ".join(f"[{escape(title)}]({url})" for title, url in quality_sources(ret))
            st.markdown(
                f"**{r.format_id}**: {escape(quality_text(ret))}.  \n{escape(ret.note)}"
                + (f"  \nSources: {links}" if links else "")
            )
        for note in budget.notes:
            st.caption(escape(note))

if table.skipped:
    st.caption("Left out: " + "; ".join(f"`{s.format_id}` ({escape(s.reason)})" for s in table.skipped) + ".")

if table.rows:
    records = table.records()
    stem = f"{spec.name.replace('/', '--')}-bit-widths"
    downloads = st.container(horizontal=True)
    downloads.download_button(
        "Download table (CSV)",
        rows_csv(records, RECORD_COLUMNS),
        file_name=f"{stem}.csv",
        mime="text/csv",
        icon=":material/table:",
    )
    downloads.download_button(
        "Download table (JSON)",
        json.dumps(table.to_dict(), indent=2),
        file_name=f"{stem}.json",
        mime="application/json",
        icon=":material/data_object:",
        help="Integer bytes; GiB = 2^30 bytes where a key says so",
    )
