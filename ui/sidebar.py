"""The inputs every page shares, in the sidebar and bound to the URL, turned into one :class:`Plan`.

Widgets live in the entry point's run (``app.py`` calls :func:`render_sidebar` before the
page), so their URL parameters survive page switches and a link reproduces the view.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from planner import ModelSpec, PlannerError
from planner.engines import engine_ids, get_engine
from planner.formats import format_ids
from planner.hardware import Gpu, gpus_by_id, load_gpus
from planner.memory.estimate import DEFAULT_CONTEXT, RunSettings
from planner.request import PlanRequest, resolve_budget, resolve_settings
from ui.approximate import warn_if_approximate
from ui.model_input import pick_model
from ui.url_params import check_choice

GPU_SOURCES = ("Catalog GPU", "Custom size", "Detected (NVML)")
DEFAULT_GPU = "rtx-4090"
DEFAULT_FORMAT = "q4_k_m"
#: Context lengths offered on the slider: powers of two from 512 to 1M tokens.
CONTEXTS = tuple(2**k for k in range(9, 21))


@dataclass(frozen=True)
class Plan:
    """What the user asked (the same :class:`PlanRequest` the CLI and the API build) and what it resolved to.

    ``spec`` is ``None`` when no model could be read, ``settings`` when a run setting was invalid
    (the sidebar shows why in both cases).
    """

    request: PlanRequest
    spec: ModelSpec | None
    settings: RunSettings | None
    gpu_source: str
    gpu: Gpu | None

    @property
    def format_id(self) -> str:
        """The weight format's id as chosen."""
        assert self.request.format is not None
        return self.request.format

    @property
    def engine_id(self) -> str | None:
        """The engine chosen, or ``None`` for the format's usual one."""
        return self.request.engine_id


def _formats() -> list[str]:
    """Fixed format ids (parametric EXL families are left out: no modelled engine loads them)."""
    return [f for f in format_ids() if "<" not in f]


def render_sidebar() -> Plan:
    """Draw the shared inputs and return the plan they describe."""
    spec = pick_model()
    with st.sidebar:
        st.header("Run")
        formats = _formats()
        check_choice("format", "weight format", formats)
        check_choice("engine", "engine", ["auto", *engine_ids()])
        format_id = st.selectbox(
            "Weight format", formats, index=formats.index(DEFAULT_FORMAT), key="format", bind="query-params",
            help="How the weights are stored: 16-bit, FP8/INT8, bitsandbytes, GPTQ/AWQ/HQQ, MXFP4 or a GGUF type",
        )  # fmt: skip
        engine = st.selectbox(
            "Engine", ["auto", *engine_ids()], key="engine", bind="query-params",
            help="auto: llama.cpp for GGUF types, transformers otherwise",
        )  # fmt: skip
        engine_id = None if engine == "auto" else engine
        context = st.select_slider(
            "Context (tokens)", CONTEXTS, value=DEFAULT_CONTEXT, key="context", bind="query-params",
            format_func=lambda n: f"{n // 1024}k" if n >= 1024 else str(n),
        )  # fmt: skip
        batch = st.number_input("Concurrent sequences", 1, 1024, 1, key="batch", bind="query-params")
        kv_choices = ("auto",) if engine_id is None else get_engine(engine_id).kv_dtypes
        kv = st.selectbox(
            "KV cache type", kv_choices, key="kv", bind="query-params",
            help="auto: the engine's default for the model; pick an engine to choose another",
        )  # fmt: skip
        request = PlanRequest(
            format=format_id, engine=engine_id, context=int(context), batch=int(batch), kv_dtype=kv
        )
        settings = None
        try:
            settings = resolve_settings(request)
        except PlannerError as exc:
            st.error(str(exc))

        st.header("GPU")
        gpu_source = st.radio("GPU source", GPU_SOURCES, key="gpu_source", bind="query-params")
        gpu = None
        if gpu_source == "Catalog GPU":
            ids = [g.id for g in load_gpus()]
            names = gpus_by_id()
            check_choice("gpu", "GPU", [names[i].name for i in ids], {i: i for i in ids})
            gpu_id = st.selectbox(
                "GPU", ids, index=None if "gpu" in st.session_state else ids.index(DEFAULT_GPU), key="gpu", bind="query-params",
                format_func=lambda i: names[i].name, help=f"{len(ids)} GPUs; type to search",
            )  # fmt: skip
            gpu = names[gpu_id]
            request = request.with_(gpu=gpu_id)
        elif gpu_source == "Custom size":
            text = st.text_input(
                "GPU memory", "24GiB", key="vram", bind="query-params", max_chars=40,
                help="A size with its unit: 24GiB (binary) or 24GB (decimal) are different sizes",
            )  # fmt: skip
            request = request.with_(vram=text)
            try:
                resolve_budget(request)
            except PlannerError as exc:
                st.error(str(exc))
        else:
            request = request.with_(live=True)
        count = st.number_input("Number of GPUs", 1, 16, 1, key="gpus", bind="query-params")
        request = request.with_(gpus=int(count))
    if spec is not None:
        request = request.with_(model=spec.name)
    plan = Plan(request, spec, settings, gpu_source, gpu)
    st.session_state["_plan"] = plan
    return plan


def planned_model(plan: Plan) -> ModelSpec:
    """The plan's model; without one, the page says how to pick one and stops."""
    if plan.spec is None:
        st.info(
            "No model to plan yet. Pick a catalog model, type a Hugging Face id, or upload a config.json in the "
            "sidebar (a model that cannot be read says why there)."
        )
        st.stop()
    warn_if_approximate(plan.spec)
    return plan.spec


def planned_settings(plan: Plan, to_see: str) -> RunSettings:
    """The plan's run settings; when they are invalid, the page says so and stops."""
    if plan.settings is None:
        st.error(
            f"The run settings in the sidebar are not valid (the sidebar says why); fix them to see {to_see}."
        )
        st.stop()
    return plan.settings


def current_plan() -> Plan:
    """The plan the entry point's sidebar built in this run."""
    return st.session_state["_plan"]
