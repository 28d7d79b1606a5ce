"""Plotly figures built from planner results (pure functions, testable without Streamlit)."""

from __future__ import annotations

import plotly.graph_objects as go

from planner import ModelSpec


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
