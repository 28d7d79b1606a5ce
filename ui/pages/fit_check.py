"""Fit check: will the sidebar's model, format and engine fit the GPU, with how much context, and how fast?

Every figure comes from ``planner`` (:func:`planner.engines.estimate`, :func:`planner.fit.answer.fit_answer`);
this page only lays them out, in GiB (2**30 bytes).
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from planner import PlannerError
from planner.engines import estimate
from planner.fit import best_format
from planner.fit.answer import estimate_json, fit_answer, plan_rows, rows_csv
from planner.formats import parse_format
from planner.hardware.units import GIB, format_gib
from ui.budget import live_free_bytes, plan_budget
from ui.charts import breakdown_figure, split_figure
from ui.markdown import escape
from ui.sidebar import current_plan, planned_model, planned_settings

GIB_COLUMN = st.column_config.NumberColumn(format="%.2f")
SPLIT_LABELS = {
    "tensor": "tensor parallel (vLLM --tensor-parallel-size)",
    "layer": "layer split",
}
LAYER_SPLIT_HOW = {
    "llama.cpp": "llama.cpp -sm layer, its default with several GPUs",
    "transformers": 'transformers device_map="auto" fills the GPUs layer by layer',
}


def gib(n: int | None) -> float | None:
    """Bytes to GiB for display."""
    return None if n is None else n / GIB


def layer_span(layers: tuple[int, ...], n_layer: int) -> str:
    """``"0-16"``, ``"17-31 + output"`` (index ``n_layer`` is the output layer) or ``"none"``."""
    repeating = [il for il in layers if il < n_layer]
    parts = [f"{repeating[0]}-{repeating[-1]}"] if repeating else []
    if n_layer in layers:
        parts.append("output")
    return " + ".join(parts) or "none"


def tokens(n: int | None) -> str:
    """A token or sequence count for a metric."""
    return "none fits" if n is None else f"{n:,}"


plan = current_plan()
st.title("Fit check")
st.caption(
    "Will it fit, with how much context, and how fast? Memory in GiB (2^30 bytes); every figure comes from "
    "the planner's rules, explained under *Why these numbers*."
)
spec = planned_model(plan)
settings = planned_settings(plan, "the plan")

try:
    fmt = parse_format(plan.format_id)
    est = estimate(spec, fmt, plan.engine_id, settings)
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
        answer = fit_answer(spec, fmt, settings, est, budget)
    except PlannerError as exc:
        st.error(f"**The fit could not be computed:** {exc}")

st.markdown(
    f"**{spec.name}** · `{fmt.id}` on **{est.engine}** · {settings.context:,} tokens x {settings.batch} "
    f"sequence{'s' if settings.batch > 1 else ''} · KV cache {est.kv_dtype}"
    + (f"  \n{budget.label}" if budget is not None else "")
)

# --- the verdict -----------------------------------------------------------------------------
fit = answer.fit if answer is not None else None
if fit is not None:
    where = " on the fullest GPU" if fit.budget.count > 1 else ""
    need = f"needs {format_gib(fit.required_bytes)} of {format_gib(fit.usable_bytes)} usable"
    if fit.blockers:
        st.error("**Will not run here:** " + " ".join(fit.blockers))
    elif fit.fits:
        st.success(f"**Fits**, with {format_gib(fit.headroom_bytes)} headroom{where} ({need}).")
    else:
        below = (
            "partial offload to the CPU, and other formats" if answer.offload is not None else "other formats"
        )
        st.error(
            f"**Does not fit:** short by {format_gib(-fit.headroom_bytes)}{where} ({need}). Below: {below}."
        )

# --- the numbers -----------------------------------------------------------------------------
low, high = est.total_band
cols = st.columns(4 if fit is not None else 2)
cols[0].metric(
    "GPU memory needed",
    format_gib(fit.required_bytes if fit is not None else est.total),
    help=(
        f"Weights + KV cache + activations + overhead = {format_gib(est.total)} "
        f"(uncertainty band {format_gib(low)} to {format_gib(high)})"
        + (
            f"; {format_gib(fit.required_bytes)} counted against {est.engine}'s limit over "
            f"{fit.budget.count} GPU(s)"
            if fit is not None and fit.required_bytes != est.total
            else ""
        )
    ),
)
if fit is not None:
    cols[1].metric("Usable by the engine", format_gib(fit.usable_bytes), help=fit.allowance.rule)
    cols[2].metric(
        "Headroom" if fit.headroom_bytes >= 0 else "Short by",
        format_gib(abs(fit.headroom_bytes)),
        help="Usable minus needed (the tightest GPU when there are several)",
    )
cols[-1].metric(
    "Host RAM",
    format_gib(est.host_total),
    help="Memory the engine keeps on the CPU side (weights it leaves in host memory, buffers)",
)

if answer is not None:
    cols = st.columns(4)
    mc, mb = answer.max_context, answer.max_batch
    cols[0].metric(
        f"Max context at batch {settings.batch}",
        tokens(mc.value),
        delta="model's maximum" if mc.capped else None,
        delta_color="off",
        delta_arrow="off",
        help="Largest tokens per sequence that fit (exact boundary: one more does not). "
        + " ".join(mc.notes),
    )
    cols[1].metric(
        f"Max batch at {settings.context:,} tokens",
        tokens(mb.value),
        delta="search cap" if mb.capped else None,
        delta_color="off",
        delta_arrow="off",
        help="Most concurrent sequences that fit at this context. " + " ".join(mb.notes),
    )
    speed = answer.speed
    if speed is not None:
        cols[2].metric(
            "Decode (roofline estimate)",
            f"{speed.decode_tokens_per_s:,.1f} tok/s",
            help=(
                f"Band {speed.decode_tokens_per_s_low:,.1f} to {speed.decode_tokens_per_s_high:,.1f} tokens/s, "
                f"{speed.bound}-bound; all {speed.batch} sequence(s) together "
                f"({speed.per_sequence_tokens_per_s:,.1f} per sequence)."
            ),
        )
        if speed.prefill_seconds is not None:
            cols[3].metric(
                f"Prefill of {speed.prompt_tokens:,} tokens (estimate)",
                f"{speed.prefill_seconds:,.2f} s",
                help=f"Band {speed.prefill_seconds_low:,.2f} to {speed.prefill_seconds_high:,.2f} s (roofline)",
            )
        else:
            cols[3].metric("Prefill (estimate)", "n/a", help=speed.assumptions[-1])
        st.caption(
            "Speeds are roofline estimates, not measurements: bytes over memory bandwidth and FLOPs over tensor "
            "throughput with empirical efficiency fractions (data/speed.json); assumptions under *Why these numbers*."
        )
    elif fit is not None and fit.budget.gpu is None:
        cols[2].metric("Decode (estimate)", "n/a", help="A custom size has no bandwidth figure")
        st.caption(
            "Speed needs a known GPU: pick a *Catalog GPU* in the sidebar for a decode/prefill estimate."
        )
    elif fit is not None:
        cols[2].metric("Decode (estimate)", "n/a", help="Not estimated: the plan does not fit")

# --- the chart ---------------------------------------------------------------------------------
if fit is not None and fit.split is not None:
    mode = fit.split.mode
    how = SPLIT_LABELS[mode] if mode == "tensor" else f"layer split ({LAYER_SPLIT_HOW.get(est.engine, '')})"
    st.subheader(f"Split over {fit.budget.count} GPUs: {how}")
    st.plotly_chart(split_figure(fit.split), key="split")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "GPU": f"{s.index}: {s.name}",
                    "layers": layer_span(s.layers, spec.num_layers)
                    if mode == "layer"
                    else f"1/{fit.budget.count} of every layer",
                    "weights GiB": gib(s.weights),
                    "KV cache GiB": gib(s.kv_cache),
                    "activations GiB": gib(s.activations),
                    "overhead GiB": gib(s.overhead),
                    "total GiB": gib(s.total),
                    "usable GiB": gib(s.capacity_bytes - s.margin_bytes),
                    "headroom GiB": gib(s.headroom),
                    "fits": s.fits,
                }
                for s in fit.split.shares
            ]
        ),
        hide_index=True,
        width="stretch",
        column_config=dict.fromkeys(
            (
                "weights GiB",
                "KV cache GiB",
                "activations GiB",
                "overhead GiB",
                "total GiB",
                "usable GiB",
                "headroom GiB",
            ),
            GIB_COLUMN,
        ),
    )
    for note in fit.split.notes:
        st.caption(escape(note))
else:
    st.subheader("GPU memory, by component")
    device = fit.budget.devices[0] if fit is not None else None
    capacity = (
        None
        if device is None
        else device.total_bytes
        if fit.budget.source == "live"
        else device.capacity_bytes
    )
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

# --- what to do when it does not fit -------------------------------------------------------------
if answer is not None and answer.offload is not None:
    st.subheader("Partial offload (llama.cpp)")
    off = answer.offload
    if off.gpu_layers is None:
        st.warning(
            "Not even `-ngl 0` fits: the CUDA context and compute buffers alone exceed the usable memory."
        )
    else:
        text = (
            f"`{off.flag}` keeps {off.repeating_on_gpu} of {off.n_layer} layers"
            f"{' and the output layer' if off.gpu_layers else ''} on the GPU: "
            f"GPU {format_gib(off.fit.required_bytes)}, host RAM {format_gib(off.host_bytes)}."
        )
        if answer.offload_speed is not None:
            sp = answer.offload_speed
            text += (
                f" Decode about {sp.decode_tokens_per_s:,.1f} tok/s (roofline estimate, band "
                f"{sp.decode_tokens_per_s_low:,.1f} to {sp.decode_tokens_per_s_high:,.1f}): the CPU reads the "
                "host-resident layers every token."
            )
        st.info(text)
    experts = off.experts
    if experts is not None and experts.n_cpu_moe is not None:
        st.info(
            f"Or keep every layer on the GPU and move routed experts to the CPU: `{experts.flag}` keeps "
            f"{format_gib(experts.moved_bytes)} of experts in host memory (GPU {format_gib(experts.fit.required_bytes)}, "
            f"host RAM {format_gib(experts.host_bytes)})."
        )
    for note in off.notes:
        st.caption(escape(note))

if fit is not None and not fit.fits:
    try:
        options = best_format(spec, plan.engine_id, settings, fit.budget)
    except PlannerError:
        options = []
    pick = next((o for o in options if o.pick), None)
    if pick is not None:
        p = pick.fit
        st.info(
            f"**The most bits that fit:** `{pick.format_id}` on {p.estimate.engine} "
            f"({p.estimate.weights_report.bits_per_weight:.2f} bits per weight, needs {format_gib(p.required_bytes)}, "
            f"{format_gib(p.headroom_bytes)} headroom) at {settings.context:,} tokens. "
            "The *Bit widths* page compares every format."
        )
    elif options:
        offloads = answer.offload is not None and answer.offload.gpu_layers is not None
        if offloads:
            tail = "; the partial offload above runs it with layers in host RAM, slowly."
        elif est.engine != "llama.cpp":
            tail = " (llama.cpp can offload layers to the CPU: pick a GGUF format)."
        else:
            tail = "."
        st.warning(
            f"**No representative format fits entirely on the GPU** at {settings.context:,} tokens x "
            f"{settings.batch}: lower the context or batch, add GPUs, or pick a larger GPU{tail}"
        )

# --- why -----------------------------------------------------------------------------------------
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
                    "GiB": gib(f.bytes),
                    "low GiB": gib(f.band[0]),
                    "high GiB": gib(f.band[1]),
                    "kind": "exact arithmetic" if f.exact else "estimate (empirical band)",
                }
                for name, where, f in shown
            ]
        ),
        hide_index=True,
        column_config={"GiB": GIB_COLUMN, "low GiB": GIB_COLUMN, "high GiB": GIB_COLUMN},
    )
    for name, where, f in shown:
        band = "exact" if f.exact else f"estimate, band {format_gib(f.band[0])} to {format_gib(f.band[1])}"
        st.markdown(f"**{where} {name}: {format_gib(f.bytes)}** ({band})  \n{escape(f.rule)}")
        details = []
        if f.keys:
            details.append("config keys and settings: " + ", ".join(f.keys))
        if f.source:
            details.append("source: " + f.source)
        if details:
            st.caption(escape(" · ".join(details)))
    st.caption(
        f"Weights average {est.weights_report.bits_per_weight:.3f} bits per parameter "
        f"({spec.total_parameters:,} parameters). Exact figures follow from the config; estimates carry the "
        "band of their empirical constants (data/engines.json)."
    )
    notes = [*est.notes, *est.weights_report.notes]
    if fit is not None:
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

# --- downloads -----------------------------------------------------------------------------------
stem = f"{spec.name.replace('/', '--')}-{fmt.id}-{est.engine}"
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
