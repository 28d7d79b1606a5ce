"""The memory chart: a stacked bar against the GPU's lines, or the per-GPU split with its table."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from planner.fit.answer import FitAnswer
from planner.hardware.units import format_gib, to_gib
from planner.memory.estimate import MemoryEstimate
from planner.model import ModelSpec
from ui.budget import live_free_bytes
from ui.charts import breakdown_figure, split_figure
from ui.fit_check import GIB_COLUMN
from ui.markdown import escape

SPLIT_LABELS = {
    "tensor": "tensor parallel (vLLM --tensor-parallel-size)",
    "layer": "layer split",
}
LAYER_SPLIT_HOW = {
    "llama.cpp": "llama.cpp -sm layer, its default with several GPUs",
    "transformers": 'transformers device_map="auto" fills the GPUs layer by layer',
}
SPLIT_GIB_COLUMNS = (
    "weights GiB",
    "KV cache GiB",
    "activations GiB",
    "overhead GiB",
    "total GiB",
    "usable GiB",
    "headroom GiB",
)


def layer_span(layers: tuple[int, ...], n_layer: int) -> str:
    """``"0-16"``, ``"17-31 + output"`` (index ``n_layer`` is the output layer) or ``"none"``."""
    repeating = [il for il in layers if il < n_layer]
    parts = [f"{repeating[0]}-{repeating[-1]}"] if repeating else []
    if n_layer in layers:
        parts.append("output")
    return " + ".join(parts) or "none"


def draw_split(spec: ModelSpec, est: MemoryEstimate, answer: FitAnswer) -> None:
    """Several GPUs: what each one holds, as a chart and a table."""
    fit = answer.fit
    assert fit.split is not None
    mode = fit.split.mode
    how = SPLIT_LABELS[mode] if mode == "tensor" else f"layer split ({LAYER_SPLIT_HOW.get(est.engine, '')})"
    st.subheader(f"Split over {fit.budget.count} GPUs: {how}")
    st.plotly_chart(split_figure(fit.split), key="split")
    rows = [
        {
            "GPU": f"{s.index}: {s.name}",
            "layers": layer_span(s.layers, spec.num_layers)
            if mode == "layer"
            else f"1/{fit.budget.count} of every layer",
            "weights GiB": to_gib(s.weights),
            "KV cache GiB": to_gib(s.kv_cache),
            "activations GiB": to_gib(s.activations),
            "overhead GiB": to_gib(s.overhead),
            "total GiB": to_gib(s.total),
            "usable GiB": to_gib(s.capacity_bytes - s.margin_bytes),
            "headroom GiB": to_gib(s.headroom),
            "fits": s.fits,
        }
        for s in fit.split.shares
    ]
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        column_config=dict.fromkeys(SPLIT_GIB_COLUMNS, GIB_COLUMN),
    )
    for note in fit.split.notes:
        st.caption(escape(note))


def draw_breakdown(est: MemoryEstimate, answer: FitAnswer | None) -> None:
    """One GPU (or none): the stacked bar of components against capacity, free memory and the engine's limit."""
    fit = answer.fit if answer is not None else None
    st.subheader("GPU memory, by component")
    device = fit.budget.devices[0] if fit is not None else None
    capacity = None
    if device is not None:
        capacity = device.total_bytes if fit.budget.source == "live" else device.capacity_bytes
    st.plotly_chart(
        breakdown_figure(
            est,
            capacity,
            free_bytes=live_free_bytes(fit.budget) if fit is not None else None,
            label="GPU" if device is None else device.name.removeprefix("NVIDIA ").removeprefix("GeForce "),
            limit_bytes=answer.bar_limit_bytes if answer is not None else None,
            limit_label=f"{est.engine} limit",
        ),
        key="breakdown",
    )
    if fit is not None:
        lines = [f"solid red: GPU capacity {format_gib(capacity)}"]
        if fit.budget.source == "live":
            lines.append(f"dashed: free now {format_gib(live_free_bytes(fit.budget))} (NVML)")
        lines.append(f"dotted: what {est.engine} lets itself use, {format_gib(answer.bar_limit_bytes)}")
        st.caption(" · ".join(lines) + f". {fit.allowance.rule}.")


def draw_chart(spec: ModelSpec, est: MemoryEstimate, answer: FitAnswer | None) -> None:
    """The split on several GPUs, the breakdown otherwise."""
    if answer is not None and answer.fit.split is not None:
        draw_split(spec, est, answer)
    else:
        draw_breakdown(est, answer)
