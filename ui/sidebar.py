"""The inputs every page shares, in the sidebar and in the URL, turned into one :class:`Plan`.

Widgets live in the entry point's run (``app.py`` calls :func:`render_sidebar` before the page), so
they keep their values across page switches. Their URL parameters are the page's link contract
(:mod:`planner.links`: stable ids such as ``gpu=rtx-4090``, ``context=32768``), read and written by
:mod:`ui.url_state` instead of Streamlit's widget binding; a link value the page cannot use shows a
warning naming the parameter and what is shown instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from planner import ModelSpec, PlannerError
from planner.engines import default_engine, engine_ids, get_engine
from planner.fit.budget import MAX_GPUS
from planner.formats import format_ids, parse_format
from planner.hardware import Gpu, find_gpu, gpus_by_id, load_gpus
from planner.links import page_query
from planner.memory.estimate import DEFAULT_CONTEXT, MAX_BATCH, RunSettings
from planner.request import (
    PlanRequest,
    parse_switch,
    parse_tokens,
    parse_whole,
    resolve_budget,
    resolve_settings,
)
from ui.approximate import warn_if_approximate
from ui.model_input import pick_model
from ui.url_state import (
    LinkValueError,
    from_link,
    link_value,
    one_of,
    shorten,
    show_warnings,
    shown_index,
    warn,
    write_link,
)

#: GPU sources by id, with the label the radio shows. Live reading covers NVIDIA (NVML), a Mac (sysctl),
#: AMD (amdsmi / rocm-smi) and Intel (planner.hardware).
GPU_SOURCES = {"catalog": "Catalog GPU", "custom": "Custom size", "live": "Detected on this machine"}
#: Labels older links carry (folded), mapped to today's ids.
GPU_SOURCE_ALIASES = {"detected (nvml)": "live", "detected": "live"}
DEFAULT_GPU = "rtx-4090"
DEFAULT_FORMAT = "q4_k_m"
DEFAULT_VRAM = "24GiB"
#: Longest size typed or linked (``24GiB``, ``80 GB``).
MAX_VRAM_TEXT = 40
#: Context lengths offered on the slider: powers of two from 512 to 1M tokens (a link's own value joins them).
CONTEXTS = tuple(2**k for k in range(9, 21))


@dataclass(frozen=True)
class Plan:
    """What the user asked (the same :class:`PlanRequest` the CLI and the API build) and what it resolved to.

    ``spec`` is ``None`` when no model could be read, ``settings`` when a run setting was invalid
    (the sidebar shows why in both cases). ``gpu_source`` is an id of :data:`GPU_SOURCES`.
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


def _tokens(n: int) -> str:
    return f"{n // 1024}k" if n >= 1024 and n % 1024 == 0 else f"{n:,}"


def _format_id(formats: list[str]):
    def parse(text: str) -> str:
        fid = parse_format(text).id
        if fid not in formats:
            raise LinkValueError(f"'{fid}' is a format no engine on this page loads")
        return fid

    return parse


def _engine(text: str) -> str:
    if text.strip().lower() == "auto":
        return "auto"
    return get_engine(text.strip()).id


def _gpu_id(text: str) -> str:
    return find_gpu(text).id


def _vram(text: str) -> str:
    text = text.strip()
    if len(text) > MAX_VRAM_TEXT:
        raise LinkValueError(f"it is {len(text):,} characters long; at most {MAX_VRAM_TEXT}")
    return text  # an unreadable size stays in the box; the pages say why (parse_size's message)


def _gpu_source(text: str) -> str:
    """A GPU source id from a link: an id or the radio's label, any case."""
    folded = text.strip().casefold()
    if folded in GPU_SOURCE_ALIASES:
        return GPU_SOURCE_ALIASES[folded]
    for source, label in GPU_SOURCES.items():
        if folded in (source, label.casefold()):
            return source
    raise LinkValueError(f"not a GPU source ({', '.join(GPU_SOURCES)})")


def _gpu_source_from_link() -> None:
    """The GPU source a link implies: ``live=on``, else a ``vram``, else a ``gpu``, else ``gpu_source``."""
    st.session_state.setdefault("gpu_source", "catalog")
    live, vram, gpu = link_value("live"), link_value("vram"), link_value("gpu")
    if live is not None:
        try:
            if parse_switch("live", live):
                st.session_state["gpu_source"] = "live"
                return
        except PlannerError as exc:
            shown = GPU_SOURCES[st.session_state["gpu_source"]]
            warn(
                "live",
                f"The link's `live={shorten(live)}` cannot be used: {exc}. Showing **{shown}** instead.",
                False,
            )
    if vram is not None:
        st.session_state["gpu_source"] = "custom"
        if gpu is not None:
            warn(
                "gpu_source",
                f"The link gives both `gpu={shorten(gpu)}` and `vram={shorten(vram)}`; the page plans one GPU "
                "choice: showing the custom size.",
                "custom",
            )
    elif gpu is not None:
        st.session_state["gpu_source"] = "catalog"
    else:
        from_link("gpu_source", "gpu_source", _gpu_source, default="catalog", show=GPU_SOURCES.get)


def render_sidebar() -> Plan:
    """Draw the shared inputs, write the plan into the URL, and return it."""
    choice = pick_model()
    with st.sidebar:
        st.header("Run")
        formats = _formats()
        from_link("format", "format", _format_id(formats), default=DEFAULT_FORMAT)
        format_id = st.selectbox(
            "Weight format", formats, index=shown_index("format", formats), key="format",
            help="How the weights are stored: 16-bit, FP8/INT8, bitsandbytes, GPTQ/AWQ/HQQ, MXFP4 or a GGUF type",
        )  # fmt: skip
        engines = ["auto", *engine_ids()]
        from_link("engine", "engine", _engine, default="auto")
        engine = st.selectbox(
            "Engine", engines, index=shown_index("engine", engines), key="engine",
            help="auto: llama.cpp for GGUF types, transformers otherwise",
        )  # fmt: skip
        engine_id = None if engine == "auto" else engine

        from_link(
            "context", "context", lambda t: parse_tokens("context", t), default=DEFAULT_CONTEXT,
            show=lambda n: f"{n:,} tokens",
        )  # fmt: skip
        contexts = sorted({*CONTEXTS, int(st.session_state["context"])})
        context = st.select_slider(
            "Context (tokens)", contexts, value=contexts[shown_index("context", contexts)], key="context",
            format_func=_tokens,
        )  # fmt: skip
        from_link("batch", "batch", lambda t: parse_whole("batch", t, 1, MAX_BATCH), default=1)
        batch = st.number_input(
            "Concurrent sequences", 1, MAX_BATCH, int(st.session_state["batch"]), key="batch"
        )

        effective = engine_id or default_engine(parse_format(format_id)).id
        kv_choices = get_engine(effective).kv_dtypes
        from_link(
            "kv", "kv", one_of(kv_choices, f"KV cache type of {effective}"), default="auto",
            aliases=("kv-dtype", "kv_dtype"),
        )  # fmt: skip
        if st.session_state["kv"] not in kv_choices:
            st.session_state["kv"] = "auto"  # the engine changed under it
        kv = st.selectbox(
            "KV cache type", kv_choices, index=shown_index("kv", kv_choices), key="kv",
            help=f"auto: the engine's default for the model; these are {effective}'s cache types",
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
        _gpu_source_from_link()
        gpu_source = st.radio(
            "GPU source", list(GPU_SOURCES), index=shown_index("gpu_source", GPU_SOURCES), key="gpu_source",
            format_func=GPU_SOURCES.get,
            help="Detected: the free memory of this machine's GPUs now (NVIDIA, Apple, AMD, Intel)",
        )  # fmt: skip
        gpu = None
        if gpu_source == "catalog":
            ids = [g.id for g in load_gpus()]
            names = gpus_by_id()
            from_link("gpu", "gpu", _gpu_id, default=DEFAULT_GPU, show=lambda i: names[i].name)
            gpu_id = st.selectbox(
                "GPU",
                ids,
                index=shown_index("gpu", ids),
                key="gpu",
                format_func=lambda i: names[i].name,
                help=f"{len(ids)} GPUs; type to search",
            )
            gpu = names[gpu_id]
            request = request.with_(gpu=gpu_id)
        elif gpu_source == "custom":
            from_link("vram", "vram", _vram, default=DEFAULT_VRAM)
            text = st.text_input(
                "GPU memory", key="vram", max_chars=MAX_VRAM_TEXT,
                help="A size with its unit: 24GiB (binary) or 24GB (decimal) are different sizes",
            )  # fmt: skip
            request = request.with_(vram=text)
            try:
                resolve_budget(request)
            except PlannerError as exc:
                st.error(str(exc))
        else:
            request = request.with_(live=True)
        from_link("gpus", "gpus", lambda t: parse_whole("gpus", t, 1, MAX_GPUS), default=1)
        count = st.number_input("Number of GPUs", 1, MAX_GPUS, int(st.session_state["gpus"]), key="gpus")
        request = request.with_(gpus=int(count))
    if choice.ref is not None:
        request = request.with_(model=choice.ref)
    write_link(page_query(request, choice.source))
    show_warnings(
        {
            "source": choice.source, "model": st.session_state.get("hub" if choice.source == "hub" else "model"),
            "format": format_id, "engine": engine, "context": int(context), "batch": int(batch), "kv": kv,
            "gpu_source": gpu_source, "gpu": st.session_state.get("gpu"), "vram": st.session_state.get("vram"),
            "live": gpu_source == "live", "gpus": int(count),
        }
    )  # fmt: skip
    plan = Plan(request, choice.spec, settings, gpu_source, gpu)
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
