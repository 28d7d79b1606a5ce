"""Why these numbers (each figure's rule, config keys, source and band) and the plan's downloads."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from planner.fit.answer import FitAnswer, estimate_json, plan_rows, rows_csv
from planner.hardware.units import format_gib, to_gib
from planner.memory.estimate import MemoryEstimate
from ui.fit_check import GIB_COLUMN
from ui.markdown import escape


def draw_why(est: MemoryEstimate, answer: FitAnswer | None) -> None:
    """The expander with every figure's derivation, the fit rule, the notes and the speed assumptions."""
    with st.expander("Why these numbers: rule, config keys, source and uncertainty of each figure"):
        figures = [
            ("weights", "GPU", est.weights),
            ("KV cache", "GPU", est.kv_cache),
            ("activations", "GPU", est.activations),
            ("overhead", "GPU", est.overhead),
            ("weights", "host", est.host_weights),
            ("KV cache", "host", est.host_kv_cache),
            ("buffers", "host", est.host_activations),
        ]
        shown = [(name, where, f) for name, where, f in figures if where == "GPU" or f.bytes]
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "component": f"{where} {name}",
                        "GiB": to_gib(f.bytes),
                        "low GiB": to_gib(f.band[0]),
                        "high GiB": to_gib(f.band[1]),
                        "kind": "exact arithmetic" if f.exact else "estimate (empirical band)",
                    }
                    for name, where, f in shown
                ]
            ),
            hide_index=True,
            column_config={"GiB": GIB_COLUMN, "low GiB": GIB_COLUMN, "high GiB": GIB_COLUMN},
        )
        for name, where, f in shown:
            band = (
                "exact" if f.exact else f"estimate, band {format_gib(f.band[0])} to {format_gib(f.band[1])}"
            )
            st.markdown(f"**{where} {name}: {format_gib(f.bytes)}** ({band})  \n{escape(f.rule)}")
            details = []
            if f.keys:
                details.append("config keys and settings: " + ", ".join(f.keys))
            if f.source:
                details.append("source: " + f.source)
            if details:
                st.caption(escape(" · ".join(details)))
        spec = est.model
        st.caption(
            f"Weights average {est.weights_report.bits_per_weight:.3f} bits per parameter "
            f"({spec.total_parameters:,} parameters). Exact figures follow from the config; estimates carry the "
            "band of their empirical constants (data/engines.json)."
        )
        notes = [*est.notes, *est.weights_report.notes]
        if answer is not None:
            fit = answer.fit
            st.markdown(f"**Fit rule:** {escape(fit.allowance.rule)}.")
            st.caption(escape(f"source: {fit.allowance.source}"))
            notes += [*fit.notes, *answer.max_context.notes, *answer.max_batch.notes]
        if notes:
            st.markdown("**Notes**\n" + "\n".join(f"- {escape(n)}" for n in dict.fromkeys(notes)))
        speed = answer.speed if answer is not None else None
        if speed is not None:
            st.markdown(
                "**Speed estimate assumptions**\n" + "\n".join(f"- {escape(a)}" for a in speed.assumptions)
            )


def draw_downloads(est: MemoryEstimate, answer: FitAnswer | None) -> None:
    """CSV rows and the ``estimate --json`` document of this plan."""
    stem = f"{est.model.name.replace('/', '--')}-{est.format.id}-{est.engine}"
    downloads = st.container(horizontal=True)
    downloads.download_button(
        "Download plan (CSV)",
        rows_csv(plan_rows(est, answer)),
        file_name=f"{stem}-plan.csv",
        mime="text/csv",
        icon=":material/table:",
    )
    downloads.download_button(
        "Download plan (JSON)",
        json.dumps(estimate_json(est, answer), indent=2),
        file_name=f"{stem}-plan.json",
        mime="application/json",
        icon=":material/data_object:",
        help="The keys of `python -m planner estimate --json` (integer bytes)",
    )
