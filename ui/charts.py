"""Plotly figures built from planner results (pure functions, testable without Streamlit).

Bytes come from the planner; these functions only convert to GiB for display.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import plotly.graph_objects as go

from planner import ModelSpec
from planner.fit.multi_gpu import SplitPlan
from planner.hardware.units import GIB, format_gib
from planner.memory.estimate import MemoryEstimate

if TYPE_CHECKING:
    from planner.recommend import Recommendation

COMPONENT_COLORS = {
    "weights": "#2f6f4f",
    "KV cache": "#d08c2b",
    "activations": "#6c8ebf",
    "overhead": "#9a9a9a",
    "mmproj": "#8e5ea2",
    "draft model": "#b5651d",
    "LoRA adapters": "#3c9d9b",
}
#: Chart names of the parts beyond the language model.
EXTRA_CHART_NAMES = {"mmproj": "mmproj", "draft": "draft model", "lora": "LoRA adapters"}


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
    est: MemoryEstimate,
    capacity_bytes: int | None,
    free_bytes: int | None = None,
    label: str = "GPU",
    limit_bytes: int | None = None,
    limit_label: str = "engine limit",
) -> go.Figure:
    """One stacked horizontal bar (weights, KV, activations, overhead) against the GPU's capacity line.

    ``free_bytes`` adds the live free-memory line; ``limit_bytes`` the engine's own limit (what it
    lets itself use: capacity less its margin), drawn dotted and labelled ``limit_label``.
    """
    fig = go.Figure()
    parts = [
        ("weights", est.weights),
        ("KV cache", est.kv_cache),
        ("activations", est.activations),
        ("overhead", est.overhead),
    ]
    parts += [(EXTRA_CHART_NAMES[c.name], c.gpu) for c in est.extras if c.gpu.bytes]
    for name, fig_part in parts:
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
    if limit_bytes:
        fig.add_vline(
            x=limit_bytes / GIB,
            line_dash="dot",
            line_color="#555555",
            annotation_text=limit_label,
            annotation_position="bottom left",
        )
    fig.update_layout(
        barmode="stack",
        bargap=0.5,  # room above and below the bar for the lines' labels
        xaxis_title="GiB",
        height=200,
        margin={"l": 10, "r": 10, "t": 30, "b": 40},
        legend={"orientation": "h", "y": 1.35, "traceorder": "normal"},
    )
    return fig


def _label_positions(points: Sequence[tuple[str, float, float]]) -> list[str]:
    """A text position per ``(label, x, y)`` point that keeps labels of nearby points apart.

    Greedy, in x order: the first of top, bottom, right, left whose label box (estimated from the
    label length in axis-fraction units) overlaps no marker and no label placed before.
    """
    if not points:
        return []
    xs = [p[1] for p in points]
    ys = [p[2] for p in points]
    x_span = (max(xs) - min(xs)) or 1.0
    y_span = (max(ys) - min(ys)) or 1.0
    char_w, line_h, gap = 0.0085, 0.06, 0.025  # of the axis span, for a ~1000 x 420 px plot
    marker = 0.012  # half a marker, in axis-fraction units
    placed: list[tuple[float, float, float, float]] = [
        ((x - min(xs)) / x_span - marker, (x - min(xs)) / x_span + marker, (y - min(ys)) / y_span - 2 * marker,
         (y - min(ys)) / y_span + 2 * marker)
        for _, x, y in points
    ]  # fmt: skip
    out = [""] * len(points)
    for i in sorted(range(len(points)), key=lambda k: (xs[k], ys[k])):
        label, x, y = points[i]
        cx, cy = (x - min(xs)) / x_span, (y - min(ys)) / y_span
        w = char_w * len(label)
        boxes = {
            "top center": (cx - w / 2, cx + w / 2, cy + gap, cy + gap + line_h),
            "bottom center": (cx - w / 2, cx + w / 2, cy - gap - line_h, cy - gap),
            "middle right": (cx + gap, cx + gap + w, cy - line_h / 2, cy + line_h / 2),
            "middle left": (cx - gap - w, cx - gap, cy - line_h / 2, cy + line_h / 2),
        }

        def clear(box: tuple[float, float, float, float]) -> bool:
            return all(box[1] <= b[0] or box[0] >= b[1] or box[3] <= b[2] or box[2] >= b[3] for b in placed)

        position = next((pos for pos, box in boxes.items() if clear(box)), "top center")
        placed.append(boxes[position])
        out[i] = position
    return out


def bits_figure(points: Sequence[tuple[str, float, int, bool]], capacity_bytes: int | None) -> go.Figure:
    """Memory against bits per weight: one point per format ``(id, bpw, total bytes, fits)``."""
    positions = _label_positions([(p[0], p[1], p[2] / GIB) for p in points])
    fig = go.Figure()
    for fits, name, color in ((True, "fits", "#2f6f4f"), (False, "does not fit", "#b22222")):
        chosen = [(p, pos) for p, pos in zip(points, positions, strict=True) if p[3] is fits]
        if not chosen:
            continue
        fig.add_trace(
            go.Scatter(
                x=[p[1] for p, _ in chosen],
                y=[p[2] / GIB for p, _ in chosen],
                text=[p[0] for p, _ in chosen],
                textposition=[pos for _, pos in chosen],
                mode="markers+text",
                name=name,
                showlegend=True,
                marker={"size": 10, "color": color},
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
        legend={"orientation": "h", "y": 1.08},
    )
    return fig


#: One colour per curve of :func:`context_figure` (cycled).
CURVE_COLORS = ("#2f6f4f", "#d08c2b", "#6c8ebf", "#8e5ea2", "#4b4b8f", "#3b9c9c", "#7a7a7a", "#c45ca2")


def _tokens(n: int) -> str:
    """A token count for an axis tick: ``512``, ``8k``, ``1M``."""
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20}M"
    if n >= 1 << 10 and n % (1 << 10) == 0:
        return f"{n >> 10}k"
    return f"{n:,}"


def context_figure(
    curves: dict[str, Sequence[tuple[int, int]]],
    capacity_bytes: int | None,
    marks: dict[str, int | None],
    *,
    limits: dict[str, int] | None = None,
    current: int | None = None,
    log_x: bool = True,
    y_max_bytes: int | None = None,
) -> go.Figure:
    """Memory against context, one curve per label, with each curve's max-context mark.

    ``curves`` maps a label to ``(context, bytes)`` points; ``marks`` a label to its largest fitting
    context (a diamond on the curve, labelled, and a dotted line in the curve's colour; ``None``: no
    mark). ``limits`` adds dashed lines where engines stop short of the capacity (label -> bytes),
    ``current`` a grey line at the plan's own context, ``y_max_bytes`` caps the vertical axis.

    Lines and labels go into the layout in one update (``add_hline``/``add_vline`` validate each
    call and cost ~10 ms apiece). On a log axis shapes take data values, annotations log10 values.
    """

    def ax(x: int) -> float:
        return math.log10(x) if log_x else x

    traces = []
    shapes: list[dict] = []
    notes: list[dict] = []
    for i, (label, points) in enumerate(curves.items()):
        color = CURVE_COLORS[i % len(CURVE_COLORS)]
        traces.append(
            go.Scatter(
                x=[c for c, _ in points],
                y=[b / GIB for _, b in points],
                name=label,
                mode="lines+markers",
                line={"color": color},
                marker={"size": 5},
                legendgroup=label,
                hovertemplate=f"{label}: %{{x:,}} tokens, %{{y:.2f}} GiB<extra></extra>",
            )
        )
        mark = marks.get(label)
        if not mark:
            continue
        shapes.append(_vline(mark, {"color": color, "width": 1, "dash": "dot"}))
        at = dict(points).get(mark)
        if at is None:
            continue
        traces.append(
            go.Scatter(
                x=[mark],
                y=[at / GIB],
                mode="markers",
                marker={
                    "symbol": "diamond",
                    "size": 12,
                    "color": color,
                    "line": {"width": 1, "color": "white"},
                },
                legendgroup=label,
                showlegend=False,
                hovertemplate=f"{label}: largest context that fits, {mark:,} tokens, %{{y:.2f}} GiB<extra></extra>",
            )
        )
        notes.append(
            {
                "x": ax(mark),
                "y": at / GIB,
                "text": f"max {mark:,}",
                "showarrow": True,
                "arrowcolor": color,
                "ax": -50,
                "ay": 40 + 22 * (len(notes) % 4),
                "font": {"color": color},
                "bgcolor": "rgba(255,255,255,0.9)",
            }
        )
    lines = [(capacity_bytes, f"GPU memory {format_gib(capacity_bytes or 0)}", "solid", 2, "bottom")]
    lines += [
        (limit, f"{label} {format_gib(limit)}", "dash", 1, "top") for label, limit in (limits or {}).items()
    ]
    for value, text, dash, width, anchor in lines:
        if not value:
            continue
        shapes.append(_hline(value / GIB, {"color": "#b22222", "width": width, "dash": dash}))
        notes.append(
            {
                "x": 0,
                "xref": "paper",
                "xanchor": "left",
                "y": value / GIB,
                "yanchor": anchor,
                "text": text,
                "showarrow": False,
                "font": {"color": "#8b1a1a", "size": 11},
            }
        )
    if current:
        shapes.append(_vline(current, {"color": "#777777", "width": 1, "dash": "dash"}))
        notes.append(
            {
                "x": ax(current),
                "y": 1,
                "yref": "paper",
                "text": f"your context {current:,}",
                "showarrow": False,
                "xanchor": "left",
                "yanchor": "top",
                "font": {"color": "#555555"},
            }
        )
    xaxis: dict = {"title": {"text": "context (tokens)"}, "type": "log" if log_x else "linear"}
    contexts = [c for points in curves.values() for c, _ in points]
    if log_x and contexts:
        ticks = [1 << k for k in range(max(min(contexts), 1).bit_length() - 1, max(contexts).bit_length())]
        xaxis |= {"tickvals": ticks, "ticktext": [_tokens(t) for t in ticks]}
    yaxis: dict = {"title": {"text": "total GPU memory (GiB)"}}
    if y_max_bytes:
        yaxis["range"] = [0, y_max_bytes / GIB]
    return go.Figure(
        data=traces,
        layout={
            "xaxis": xaxis,
            "yaxis": yaxis,
            "shapes": shapes,
            "annotations": notes,
            "height": 440,
            "margin": {"l": 10, "r": 10, "t": 20, "b": 40},
        },
    )


def _vline(x: float, line: dict) -> dict:
    return {"type": "line", "xref": "x", "x0": x, "x1": x, "yref": "paper", "y0": 0, "y1": 1, "line": line}


def _hline(y: float, line: dict) -> dict:
    return {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": y, "y1": y, "line": line}


def split_figure(split: SplitPlan) -> go.Figure:
    """One stacked bar per GPU of a multi-GPU split, with each GPU's capacity and usable limit marked."""
    names = [f"GPU {s.index}" for s in split.shares]
    fig = go.Figure()
    for name, attr in (
        ("weights", "weights"),
        ("KV cache", "kv_cache"),
        ("activations", "activations"),
        ("overhead", "overhead"),
    ):
        fig.add_trace(
            go.Bar(
                x=[getattr(s, attr) / GIB for s in split.shares],
                y=names,
                name=name,
                orientation="h",
                marker_color=COMPONENT_COLORS[name],
                hovertemplate=f"%{{y}} {name}: %{{x:.2f}} GiB<extra></extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=[s.capacity_bytes / GIB for s in split.shares],
            y=names,
            mode="markers",
            name="capacity",
            marker={
                "symbol": "line-ns-open",
                "size": 28,
                "color": "#b22222",
                "line": {"width": 3, "color": "#b22222"},
            },
            hovertemplate="%{y} capacity: %{x:.2f} GiB<extra></extra>",
        )
    )
    if any(s.margin_bytes for s in split.shares):
        fig.add_trace(
            go.Scatter(
                x=[(s.capacity_bytes - s.margin_bytes) / GIB for s in split.shares],
                y=names,
                mode="markers",
                name="usable (capacity - margin)",
                marker={
                    "symbol": "line-ns-open",
                    "size": 28,
                    "color": "#555555",
                    "line": {"width": 2, "color": "#555555"},
                },
                hovertemplate="%{y} usable: %{x:.2f} GiB<extra></extra>",
            )
        )
    fig.update_layout(
        barmode="stack",
        xaxis_title="GiB per GPU",
        yaxis={"autorange": "reversed"},
        height=140 + 40 * len(names),
        margin={"l": 10, "r": 10, "t": 30, "b": 40},
        legend={"orientation": "h", "y": 1.25, "traceorder": "normal"},
    )
    return fig


#: One colour per nominal bit width in :func:`quality_memory_figure` (16 dark to 2 light warm).
WIDTH_COLORS = {
    32: "#1b3a2b",
    16: "#2f6f4f",
    8: "#3b9c9c",
    6: "#6c8ebf",
    5: "#8e5ea2",
    4: "#d08c2b",
    3: "#c45ca2",
    2: "#b22222",
    1: "#7a7a7a",
}


def quality_memory_figure(result: Recommendation) -> go.Figure:
    """Expected quality against GPU memory for every ranked pair, by bit width, with the Pareto front.

    Arrows mark the trade-offs the core worked out (a larger model at fewer bits against the best
    smaller one at more bits): green where the larger model is expected to score higher, red where
    the data says it does not. The dotted line is the memory the budget allows.
    """
    # NOTE: the traces, shapes and annotations are collected first and handed to one go.Figure: adding
    # them one by one (add_trace, add_annotation, add_vline) copies the figure each time; same figure.
    ranked = result.ranked
    traces: list[go.Scatter] = []
    for width in sorted({c.bit_width for c in ranked}, reverse=True):
        at = [c for c in ranked if c.bit_width == width]
        traces.append(
            go.Scatter(
                x=[c.fit.required_bytes / GIB for c in at],
                y=[c.quality.expected for c in at],
                mode="markers",
                name=f"{width}-bit",
                marker={"size": 8, "color": WIDTH_COLORS.get(width, "#7a7a7a"), "opacity": 0.75},
                # one hover string per point: plotly validates and serialises a flat list of strings faster
                # than nested customdata lists (for a thousand points 25 + 6 ms instead of 30 + 10)
                hovertext=[f"{c.model_id} ({c.parameters / 1e9:.1f}B) in {c.format_id}" for c in at],
                hovertemplate="%{hovertext}<br>expected %{y:.1f}, needs %{x:.2f} GiB<extra></extra>",
            )
        )
    front = result.pareto
    if front:
        traces.append(
            go.Scatter(
                x=[c.fit.required_bytes / GIB for c in front],
                y=[c.quality.expected for c in front],
                mode="lines+markers",
                name="Pareto front",
                line={"color": "#222222", "width": 1.5, "shape": "hv"},
                marker={"size": 11, "color": "rgba(0,0,0,0)", "line": {"color": "#222222", "width": 1.5}},
                customdata=[[c.model_id, c.format_id] for c in front],
                hovertemplate="Pareto: %{customdata[0]} in %{customdata[1]}<br>%{y:.1f} at %{x:.2f} GiB<extra></extra>",
            )
        )
    annotations: list[dict] = []
    for trade in result.trade_offs[:2]:  # 16 vs a larger 4-bit, 4 vs a larger 2-bit (16 vs 2 is in the text)
        small, large = trade.sixteen, trade.larger_four
        if small is None or large is None:
            continue
        wins = trade.larger_wins
        color = "#2f6f4f" if wins else "#b22222"
        verdict = "wins" if wins else "loses"
        annotations.append(
            {
                "x": large.fit.required_bytes / GIB,
                "y": large.quality.expected,
                "ax": small.fit.required_bytes / GIB,
                "ay": small.quality.expected,
                "xref": "x",
                "yref": "y",
                "axref": "x",
                "ayref": "y",
                "showarrow": True,
                "arrowhead": 3,
                "arrowsize": 1.2,
                "arrowwidth": 2,
                "arrowcolor": color,
                "text": f"{trade.low}-bit of a larger model {verdict}: {trade.difference:+.1f} vs {trade.high}-bit",
                "font": {"color": color, "size": 12},
                "bgcolor": "rgba(255,255,255,0.8)",
            }
        )
    shapes: list[dict] = []
    usable = max((c.fit.usable_bytes for c in result.candidates), default=0)
    if usable:
        # The budget's line across the plot, labelled on top (what add_vline with a top annotation draws).
        x = usable / GIB
        line = {"color": "#b22222", "dash": "dot"}
        shapes.append(
            {
                "type": "line",
                "x0": x,
                "x1": x,
                "xref": "x",
                "y0": 0,
                "y1": 1,
                "yref": "y domain",
                "line": line,
            }
        )
        annotations.append(
            {
                "showarrow": False,
                "text": "usable",
                "x": x,
                "xanchor": "center",
                "xref": "x",
                "y": 1,
                "yanchor": "bottom",
                "yref": "y domain",
            }
        )
    fig = go.Figure(
        data=traces,
        layout={
            "xaxis": {"title": {"text": "GPU memory needed (GiB)"}},
            "yaxis": {"title": {"text": f"expected {result.benchmark_label}"}},
            "height": 460,
            "margin": {"l": 10, "r": 10, "t": 30, "b": 40},
            "legend": {"orientation": "h", "y": 1.1},
            "shapes": shapes,
            "annotations": annotations,
        },
    )
    return fig
