"""What to do when the plan does not fit: llama.cpp's partial offload, experts on the CPU, the format that fits."""

from __future__ import annotations

import streamlit as st

from planner import PlannerError
from planner.fit import best_format
from planner.fit.answer import FitAnswer
from planner.hardware.units import format_gib
from planner.memory.estimate import MemoryEstimate, RunSettings
from planner.model import ModelSpec
from ui.markdown import escape


def draw_offload(answer: FitAnswer) -> None:
    """llama.cpp's ``-ngl`` and ``--n-cpu-moe`` alternatives, when the plan made them."""
    off = answer.offload
    if off is None:
        return
    st.subheader("Partial offload (llama.cpp)")
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


def draw_format_that_fits(
    spec: ModelSpec, engine_id: str | None, settings: RunSettings, est: MemoryEstimate, answer: FitAnswer
) -> None:
    """When the plan does not fit: the format with the most bits that does, or why none does."""
    fit = answer.fit
    if fit.fits:
        return
    try:
        options = best_format(spec, engine_id, settings, fit.budget)
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
