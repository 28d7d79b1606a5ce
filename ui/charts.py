"""Plotly figures built from planner results (pure functions, testable without Streamlit).

Bytes come from the planner; these functions only convert to GiB for display.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from planner import ModelSpec
from planner.memory.estimate import MemoryEstimate

GIB = 1 << 30
COMPONENT_COLORS = {
    "weights": "#2f6f4f",
    "KV cache": "#d08c2b",
    "activations": "#6c8ebf",
    "overhead": "#9a9a9a",
}


def parameters_by_role_figure(spec: ModelSpec) -> go.Figure:
    """Horizontal bar of parameters per tensor role, largest first."""
    roles = sorted(spec.parameters_by_role().items(), key=lambda kv: kv[1])
    fig = go.Figure(
        go.Bar(
            x=[n / 1e9 for _, n in roles],
            y=[role.value for role, _ in roles],
            orientation="h",
            marker_color="#2f6f4f",
            hovertemplate="%{y}: %{x:.3f} B parameters<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis_title="parameters (billions)",
        height=max(260, 28 * len(roles)),
        margin={"l": 10, "r": 10, "t": 10, "b": 40},
    )
    return fig


def breakdown_figure(
    est: MemoryEstimate, capacity_bytes: int | None, free_bytes: int | None = None, label: str = "GPU"
) -> go.Figure:
    """One stacked horizontal bar (weights, KV, activations, overhead) against the GPU's capacity line."""
    fig = go.Figure()
    for name, fig_part in (
        ("weights", est.weights),
        ("KV cache", est.kv_cache),
        ("activations", est.activations),
        ("overhead", est.overhead),
    ):
        fig.add_trace(
            go.Bar(
                x=[fig_part.bytes / GIB],
                y=[label],
                name=name,
                orientation="h",
                marker_color=COMPONENT_COLORS[name],
                hovertemplate=f"{name}: %{{x:.2f}} GiB<extra></extra>",
            )
        )
    if capacity_bytes:
        fig.add_vline(x=capacity_bytes / GIB, line_color="#b22222", line_width=3, annotation_text="capacity")
    if free_bytes:
        fig.add_vline(x=free_bytes / GIB, line_dash="dash", line_color="#b22222", annotation_text="free now")
    fig.update_layout(
        barmode="stack",
        xaxis_title="GiB",
        height=200,
        margin={"l": 10, "r": 10, "t": 30, "b": 40},
        legend={"orientation": "h", "y": 1.35},
    )
    return fig


def bits_figure(points: Sequence[tuple[str, float, int, bool]], capacity_bytes: int | None) -> go.Figure:
    """Memory against bits per weight: one point per format ``(id, bpw, total bytes, fits)``."""
    fig = go.Figure(
        go.Scatter(
            x=[p[1] for p in points],
            y=[p[2] / GIB for p in points],
            text=[p[0] for p in points],
            mode="markers+text",
            textposition="top center",
            marker={"size": 10, "color": ["#2f6f4f" if p[3] else "#b22222" for p in points]},
            hovertemplate="%{text}: %{x:.2f} bits/weight, %{y:.2f} GiB<extra></extra>",
        )
    )
    if capacity_bytes:
        fig.add_hline(y=capacity_bytes / GIB, line_color="#b22222", annotation_text="capacity")
    fig.update_layout(
        xaxis_title="average stored bits per weight",
        yaxis_title="total GPU memory (GiB)",
        height=420,
        margin={"l": 10, "r": 10, "t": 20, "b": 40},
    )
    return fig


def context_figure(
    curves: dict[str, Sequence[tuple[int, int]]], capacity_bytes: int | None, marks: dict[str, int | None]
) -> go.Figure:
    """Memory against context, one curve per label, with each curve's max-context mark."""
    fig = go.Figure()
    for label, points in curves.items():
        fig.add_trace(
            go.Scatter(
                x=[c for c, _ in points],
                y=[b / GIB for _, b in points],
                name=label,
                mode="lines+markers",
                hovertemplate=f"{label}: %{{x:,}} tokens, %{{y:.2f}} GiB<extra></extra>",
            )
        )
        mark = marks.get(label)
        if mark:
            fig.add_vline(x=mark, line_dash="dot", line_width=1, annotation_text=f"max {mark:,}")
    if capacity_bytes:
        fig.add_hline(y=capacity_bytes / GIB, line_color="#b22222", annotation_text="capacity")
    fig.update_layout(
        xaxis={"title": "context (tokens)", "type": "log"},
        yaxis_title="total GPU memory (GiB)",
        height=440,
        margin={"l": 10, "r": 10, "t": 20, "b": 40},
    )
    return fig
