"""Context: GPU memory against context length for chosen formats and KV cache types, with each curve's max context."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from planner import ModelSpec, PlannerError
from planner.engines import default_engine, engine_ids, get_engine
from planner.fit import Budget
from planner.fit.context import ContextCurve, cache_shapes, context_curve, context_explanation, growth_notes
from planner.formats import format_ids, parse_format
from planner.hardware.units import GIB
from planner.memory.estimate import RunSettings
from ui.budget import plan_budget
from ui.cells import tokens_cell
from ui.charts import context_figure
from ui.sidebar import current_plan, planned_model, planned_settings

#: At most this many formats and KV types each (up to 16 curves keep the chart readable).
MAX_PICKS = 4
#: Quantized cache types offered by default where the engine has them, to show what they change.
DEFAULT_QUANTIZED_KV = ("q8_0", "q4_0", "fp8")
#: The 16-bit weights drawn next to the sidebar's format by default, per engine.
SIXTEEN_BIT = {"llama.cpp": "gguf-f16", "transformers": "bf16", "vllm": "bf16"}


@st.cache_resource(max_entries=256, show_spinner=False)
def _curve(
    spec: ModelSpec, format_id: str, engine: str | None, settings: RunSettings, budget: Budget
) -> ContextCurve:
    """One curve, kept for the session's reruns (every argument is a frozen value; results are immutable)."""
    return context_curve(spec, parse_format(format_id), engine, settings, budget)


plan = current_plan()
st.title("Context")
st.caption(
    "How GPU memory grows with the context length, per weight format and KV cache type, and the longest "
    "context each fits on the sidebar's GPU. Memory in GiB (2^30 bytes)."
)
spec = planned_model(plan)
planned_settings(plan, "the curves")
try:
    budget = plan_budget(plan)
except PlannerError as exc:
    st.error(f"No GPU to plan against: {exc}")
    st.caption("Pick a catalog GPU or type a custom size in the sidebar.")
    st.stop()

formats = [f for f in format_ids() if "<" not in f]
if plan.engine_id:
    kv_options = list(get_engine(plan.engine_id).kv_dtypes)
    sidebar_engine = plan.engine_id
else:
    kv_options = list(dict.fromkeys(t for e in engine_ids() for t in get_engine(e).kv_dtypes))
    sidebar_engine = default_engine(parse_format(plan.format_id)).id
engine_kv = get_engine(sidebar_engine).kv_dtypes
format_default = list(dict.fromkeys([plan.format_id, SIXTEEN_BIT.get(sidebar_engine, plan.format_id)]))
kv_default = list(
    dict.fromkeys([plan.settings.kv_dtype_k, *(t for t in DEFAULT_QUANTIZED_KV if t in engine_kv)])
)[:MAX_PICKS]

left, right, axis = st.columns([5, 5, 2], vertical_alignment="bottom")
chosen_formats = left.multiselect(
    "Weight formats", formats, default=format_default, key="ctx_formats", bind="query-params",
    max_selections=MAX_PICKS, help="One curve per format and KV cache type; by default the sidebar's format and 16-bit weights",
)  # fmt: skip
chosen_kv = right.multiselect(
    "KV cache types", kv_options, default=kv_default, key="ctx_kv", bind="query-params",
    max_selections=MAX_PICKS,
    help="auto: the engine's default (f16 in llama.cpp, the model dtype in transformers and vLLM). "
    "transformers keeps the cache in the model's dtype; llama.cpp takes q8_0 … q4_0; vLLM takes fp8",
)  # fmt: skip
log_x = axis.toggle(
    "Log axis", value=True, key="ctx_log", bind="query-params",
    help="Logarithmic context axis. On it a straight line (memory proportional to context) looks curved",
)  # fmt: skip
if not chosen_formats or not chosen_kv:
    st.info("Pick at least one weight format and one KV cache type above.")
    st.stop()

curves: list[ContextCurve] = []
refused: list[str] = []
same: list[str] = []
for format_id in chosen_formats:
    for kv_type in chosen_kv:
        settings = replace(plan.settings, kv_dtype_k=kv_type, kv_dtype_v=kv_type)
        try:
            curve = _curve(spec, format_id, plan.engine_id, settings, budget)
        except PlannerError as exc:
            refused.append(f"**{format_id}, KV {kv_type}**: {exc}")
            continue
        if any(c.label == curve.label for c in curves):
            same.append(f"{format_id} with KV {kv_type} is the {curve.kv_dtype} curve already drawn")
            continue
        curves.append(curve)

if not curves:
    st.error("None of the chosen format and KV cache combinations can run:")
    for line in refused:
        st.markdown(f"- {line}")
    st.stop()

context = plan.settings.context
batch = plan.settings.batch
st.caption(
    f"**{spec.name}** on {budget.label}, {batch} concurrent sequence{'s' if batch > 1 else ''}; "
    f"grey dashed line: the sidebar's context ({context:,} tokens)."
)

marks = {c.label: c.max_context for c in curves if not c.limit.capped}
stops = {c.engine: c for c in curves if c.limit_total_bytes != budget.capacity_bytes}
limits = {f"{engine} stops at": c.limit_total_bytes for engine, c in stops.items()}
highest_start = max(c.points[0][1] for c in curves)
fig = context_figure(
    {c.label: c.points for c in curves}, budget.capacity_bytes, marks, limits=limits, current=context,
    log_x=log_x, y_max_bytes=int(1.5 * max(budget.capacity_bytes, highest_start)),
)  # fmt: skip
fig.update_layout(
    legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"}, height=470, margin={"t": 60}
)
st.plotly_chart(fig, key="context_chart")
for c in curves:
    if c.max_context is None:
        why = next((n for n in c.limit.notes if n.startswith("nothing fits")), "nothing fits")
        st.warning(f"**{c.label}** does not fit at any context: {why.removeprefix('nothing fits: ')}.")
rules = "; ".join(c.limit.fit.allowance.rule for c in stops.values())
st.caption(
    "Solid red: the GPU's memory. Dashed red: where an engine stops short of it"
    + (f" ({rules})" if rules else "")
    + ". Diamonds and dotted lines: each curve's largest context that fits. Curves run to the model's own limit "
    "(max_position_embeddings); the vertical axis stops at 1.5 x the GPU's memory (or of the highest start)."
)

rows = []
for c in curves:
    est = c.estimate
    if c.max_context is None:
        limited_by = (
            "nothing fits: " + "; ".join(c.limit.fit.blockers) if c.limit.fit.blockers else "nothing fits"
        )
    elif c.limit.capped:
        limited_by = "model's limit"
    else:
        limited_by = "GPU memory"
    rows.append(
        {
            "format": c.format_id,
            "engine": c.engine,
            "KV type": c.kv_dtype,
            "KV per token (KiB)": sum(s.bytes_per_token for s in cache_shapes(est)) / 1024,
            "weights (GiB)": est.weights.bytes / GIB,
            f"KV at {context:,} (GiB)": est.kv_cache.bytes / GIB,
            f"total at {context:,} (GiB)": est.total / GIB,
            "max context (tokens)": tokens_cell(c.max_context),
            "limited by": limited_by,
        }
    )
st.dataframe(
    pd.DataFrame(rows),
    hide_index=True,
    width="stretch",
    column_config={
        "KV per token (KiB)": st.column_config.NumberColumn(format="%.2f", help="one sequence, all layers"),
        "weights (GiB)": st.column_config.NumberColumn(format="%.2f"),
        f"KV at {context:,} (GiB)": st.column_config.NumberColumn(format="%.2f"),
        f"total at {context:,} (GiB)": st.column_config.NumberColumn(format="%.2f"),
        "max context (tokens)": st.column_config.TextColumn(help="a dash: no context fits"),
        "limited by": st.column_config.TextColumn(
            help="GPU memory: one token more does not fit. Model's limit: max_position_embeddings comes first, "
            "memory allows more"
        ),
    },
)
for line in same:
    st.caption(line)
if refused:
    with st.expander(f"{len(refused)} combination{'s' if len(refused) > 1 else ''} the engine refuses"):
        for line in refused:
            st.markdown(f"- {line}")

st.subheader("What shapes these curves")
for line in [*context_explanation(spec, [c.estimate for c in curves]), *growth_notes(curves)]:
    st.markdown(f"- {line}")
with st.expander("How the max context is found"):
    st.markdown(
        "Each mark is a binary search over the context with the engine's full estimate at every step: the "
        "context shown fits and one token more does not (or the model's own limit is reached first)."
    )
    for c in curves:
        notes = "; ".join(dict.fromkeys((*c.limit.notes, c.limit.fit.allowance.rule)))
        st.caption(f"**{c.label}**: {notes}")
    for note in budget.notes:
        st.caption(note)
