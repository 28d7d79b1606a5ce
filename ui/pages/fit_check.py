"""Fit check: will the sidebar's model, format and engine fit the GPU, with how much context, and how fast?

The plan is the sidebar's :class:`~planner.request.PlanRequest`, resolved by the core; every figure
comes from :func:`planner.fit.answer.answer_plan` and is drawn by the sections in ``ui/fit_check/``,
in GiB (2**30 bytes).
"""

from __future__ import annotations

import streamlit as st

from planner import PlannerError
from planner.engines import estimate
from planner.fit.answer import fit_answer
from planner.request import resolve_engine, resolve_format, with_gpu
from ui.budget import plan_budget
from ui.fit_check.alternatives import draw_format_that_fits, draw_offload
from ui.fit_check.chart import draw_chart
from ui.fit_check.launch import draw_launch, draw_startup
from ui.fit_check.verdict import draw_limits, draw_memory_metrics, draw_verdict
from ui.fit_check.why import draw_downloads, draw_why
from ui.sidebar import current_plan, planned_model, planned_settings

plan = current_plan()
st.title("Fit check")
st.caption(
    "Will it fit, with how much context, and how fast? Memory in GiB (2^30 bytes); every figure comes from "
    "the planner's rules, explained under *Why these numbers*."
)
spec = planned_model(plan)
settings = planned_settings(plan, "the plan")

try:
    fmt = resolve_format(plan.request)
    est = estimate(spec, fmt, resolve_engine(plan.request, fmt), settings)
except PlannerError as exc:
    st.error(f"**No plan for {spec.name} in {plan.format_id}:** {exc}")
    st.info(
        "Pick an engine that loads this format (or *auto*) in the sidebar, or another weight format. "
        "The *Bit widths* page lists every format this engine runs."
    )
    st.stop()

budget = None
try:
    budget = plan_budget(plan)
except PlannerError as exc:
    st.warning(f"**No GPU to plan against:** {exc}. Showing the memory the plan needs without a verdict.")

answer = None
if budget is not None:
    try:
        settings = with_gpu(settings, budget)  # vLLM picks kernels and batch defaults by the GPU
        est = estimate(spec, fmt, est.engine, settings)
        answer = fit_answer(spec, fmt, settings, est, budget)
    except PlannerError as exc:
        st.error(f"**The fit could not be computed:** {exc}")

st.markdown(
    f"**{spec.name}** · `{fmt.id}` on **{est.engine}** · {settings.context:,} tokens x {settings.batch} "
    f"sequence{'s' if settings.batch > 1 else ''} · KV cache {est.kv_dtype}"
    + (f"  \n{budget.label}" if budget is not None else "")
)

draw_verdict(answer)
draw_memory_metrics(est, answer)
if answer is not None:
    draw_limits(answer, settings)
draw_chart(spec, est, answer)
if answer is not None:
    draw_offload(answer)
    draw_format_that_fits(spec, plan.engine_id, settings, est, answer)
draw_startup(answer)
draw_launch(est, answer)
draw_why(est, answer)
draw_downloads(est, answer)
