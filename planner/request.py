"""One way in: the plan request every surface builds (CLI, app, HTTP API), parsed and validated once.

A :class:`PlanRequest` holds what the user asked, as typed values (text where the user names
something: a model, a format, a GPU, a size). :func:`resolve` turns it into a
:class:`ResolvedPlan` (the model spec, the parsed format, the engine id, the run settings and
the GPU budget) or raises a :class:`RequestError` that names the parameter. The parsers for
text values (``context=32k``, ``gpus=2``, ``vram=24GiB``) live here too, so a command-line flag,
a link parameter and an API query parameter are read by the same code.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any

from planner.errors import RequestError
from planner.frozen import record
from planner.limits import DEFAULT_CONTEXT, MAX_BATCH, MAX_CONTEXT, MAX_GPUS, MAX_TEXT

if TYPE_CHECKING:
    from planner.fit.budget import Budget
    from planner.formats.base import QuantFormat
    from planner.memory.estimate import DraftModel, RunSettings
    from planner.model.spec import ModelSpec


_TOKENS = re.compile(r"^(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>[km]?)$", re.IGNORECASE)


def shown(value: object, limit: int = 40) -> str:
    """``value`` as text for an error message, cut to ``limit`` characters."""
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------------
# text -> typed values (argparse ``type=``, link parameters, API query parameters)
# ---------------------------------------------------------------------------------------------


def parse_whole(parameter: str, value: object, low: int = 1, high: int = MAX_BATCH) -> int:
    """A whole number in ``[low, high]`` from an int or its decimal text; :class:`RequestError` otherwise."""
    if isinstance(value, bool):
        raise RequestError(parameter, f"{parameter} must be a whole number, not {value}")
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip().replace(",", "").replace("_", "")
        if not re.fullmatch(r"[+-]?\d{1,18}", text):
            raise RequestError(parameter, f"{parameter} must be a whole number, not '{shown(value)}'")
        number = int(text)
    if not low <= number <= high:
        raise RequestError(
            parameter, f"{parameter} must be between {low:,} and {high:,}, not {shown(number)}"
        )
    return number


def parse_tokens(parameter: str, value: object, high: int = MAX_CONTEXT) -> int:
    """A token count: ``8192``, ``8,192``, ``32k`` (x 1024) or ``1m`` (x 2^20), as the app's labels write it."""
    if isinstance(value, int) and not isinstance(value, bool):
        return parse_whole(parameter, value, 1, high)
    text = str(value).strip().replace(",", "").replace("_", "")
    match = _TOKENS.fullmatch(text)
    if not match or len(text) > 24:
        raise RequestError(
            parameter, f"{parameter} must be a number of tokens such as 8192 or 32k, not '{shown(value)}'"
        )
    number = float(match["n"]) * {"": 1, "k": 1024, "m": 1 << 20}[match["unit"].lower()]
    if not math.isfinite(number) or number != int(number):
        raise RequestError(parameter, f"{parameter} must be a whole number of tokens, not '{shown(value)}'")
    return parse_whole(parameter, int(number), 1, high)


def parse_fraction(parameter: str, value: object) -> float:
    """A fraction in (0, 1] such as ``0.9``."""
    try:
        number = float(str(value).strip()) if not isinstance(value, (int, float)) else float(value)
    except ValueError:
        raise RequestError(
            parameter, f"{parameter} must be a number in (0, 1], not '{shown(value)}'"
        ) from None
    if isinstance(value, bool) or not math.isfinite(number) or not 0 < number <= 1:
        raise RequestError(parameter, f"{parameter} must be a number in (0, 1], not '{shown(value)}'")
    return number


def parse_bytes(parameter: str, value: object) -> int:
    """A memory size: a byte count (``21474836480``, as vLLM's ``--kv-cache-memory`` takes) or ``20GiB``."""
    from planner.hardware.units import SizeError, parse_size

    if isinstance(value, bool):
        raise RequestError(parameter, f"{parameter} must be a size such as 20GiB, not {value}")
    try:
        number = parse_size(value if isinstance(value, int) else str(value).strip())
    except SizeError as exc:
        raise RequestError(parameter, f"{parameter}: {exc}") from None
    if number <= 0:
        raise RequestError(parameter, f"{parameter} must be a positive size, not '{shown(value)}'")
    return number


def parse_switch(parameter: str, value: object) -> bool:
    """``on``/``off`` (also true/false, yes/no, 1/0)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("on", "true", "yes", "1"):
        return True
    if text in ("off", "false", "no", "0"):
        return False
    raise RequestError(parameter, f"{parameter} must be on or off, not '{shown(value)}'")


def parse_text(parameter: str, value: object) -> str:
    """A non-empty name (model id, format, engine, GPU, size), at most :data:`MAX_TEXT` characters."""
    text = str(value).strip()
    if not text:
        raise RequestError(parameter, f"{parameter} is empty")
    if len(text) > MAX_TEXT:
        raise RequestError(parameter, f"{parameter} is {len(text):,} characters long; at most {MAX_TEXT}")
    return text


# ---------------------------------------------------------------------------------------------
# the request
# ---------------------------------------------------------------------------------------------


@record
class PlanRequest:
    """Everything one plan needs, as the user gave it. ``None`` means the default (the engine's own).

    GPU choice: ``gpu`` (a catalog name or id, fuzzy), ``vram`` (a size with its unit; with
    ``gpu`` it overrides that GPU's memory) or ``live`` (this machine's free memory), and
    ``gpus`` copies. No GPU at all is a valid request for a memory estimate without a fit.
    """

    model: str | None = None
    format: str | None = None
    engine: str | None = None  # None or "auto": the format's usual engine
    context: int = DEFAULT_CONTEXT
    batch: int = 1
    kv_dtype: str = "auto"
    kv_dtype_k: str | None = None  # overrides kv_dtype for keys
    kv_dtype_v: str | None = None
    group_size: int | None = None  # GPTQ/AWQ/HQQ
    double_quant: bool = False  # bitsandbytes 4-bit
    flash_attn: bool | None = None
    ubatch: int | None = None  # llama.cpp
    gpu_layers: int | None = None  # llama.cpp -ngl
    gpu_memory_utilization: float | None = None  # vLLM
    max_num_batched_tokens: int | None = None  # vLLM
    max_num_seqs: int | None = None  # vLLM
    kv_cache_memory: int | None = None  # vLLM, bytes
    enforce_eager: bool = False  # vLLM
    mem_fraction_static: float | None = None  # SGLang
    free_gpu_memory_fraction: float | None = None  # TensorRT-LLM
    tensor_parallel: int | None = None  # vLLM/SGLang/TensorRT-LLM: GPUs one model is sharded over
    gpu: str | None = None
    vram: str | None = None
    gpus: int | None = None
    live: bool = False
    offline: bool = False  # never contact the Hub
    mmproj: bool | None = (
        None  # load the vision projector (llama.cpp --mmproj); None: where the model has one
    )
    draft_model: str | None = None  # speculative-decoding draft model (a catalog id, Ollama tag, Hub id)
    draft_format: str | None = None  # its weight format (default: the model's format)
    lora_rank: int | None = None  # LoRA adapters served: rank (vLLM --max-lora-rank)
    max_loras: int | None = None  # LoRA adapters resident at once (vLLM --max-loras, llama.cpp --lora files)

    @classmethod
    def from_params(cls, params: Mapping[str, object]) -> PlanRequest:
        """A request from text parameters (a link's or an API query's), read with this module's parsers.

        Keys are the CLI's flag names with dashes or underscores (``kv-dtype``, ``kv_dtype``);
        an unknown key is refused with its name, so a typo never silently falls back to a default.
        """
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, raw in params.items():
            name = key.replace("-", "_")
            if name not in known:
                raise RequestError(
                    key, f"unknown parameter '{shown(key)}'; known: {', '.join(sorted(known))}"
                )
            values[name] = PARSERS[name](key, raw)
        return cls(**values)

    def with_(self, **changes: Any) -> PlanRequest:
        """A copy with ``changes``."""
        return replace(self, **changes)

    @property
    def engine_id(self) -> str | None:
        """The engine asked for, or ``None`` for the format's usual one."""
        if self.engine is None or self.engine.strip().lower() in ("", "auto"):
            return None
        return self.engine

    @property
    def wants_gpu(self) -> bool:
        """Whether the request names a GPU budget at all."""
        return bool(self.live or self.gpu or self.vram)


def _optional(parser):
    def parse(parameter: str, value: object):
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "auto")):
            return None
        return parser(parameter, value)

    return parse


PARSERS = {
    "model": parse_text,
    "format": parse_text,
    "engine": _optional(parse_text),
    "context": parse_tokens,
    "batch": lambda p, v: parse_whole(p, v, 1, MAX_BATCH),
    "kv_dtype": parse_text,
    "kv_dtype_k": _optional(parse_text),
    "kv_dtype_v": _optional(parse_text),
    "group_size": _optional(lambda p, v: parse_whole(p, v, -1, 1 << 20)),
    "double_quant": parse_switch,
    "flash_attn": _optional(parse_switch),
    "ubatch": _optional(parse_tokens),
    "gpu_layers": _optional(lambda p, v: parse_whole(p, v, 0, 1 << 16)),
    "gpu_memory_utilization": _optional(parse_fraction),
    "max_num_batched_tokens": _optional(parse_tokens),
    "max_num_seqs": _optional(lambda p, v: parse_whole(p, v, 1, MAX_BATCH)),
    "kv_cache_memory": _optional(parse_bytes),
    "enforce_eager": parse_switch,
    "mem_fraction_static": _optional(parse_fraction),
    "free_gpu_memory_fraction": _optional(parse_fraction),
    "tensor_parallel": _optional(lambda p, v: parse_whole(p, v, 1, MAX_GPUS)),
    "gpu": _optional(parse_text),
    "vram": _optional(parse_text),
    "gpus": _optional(lambda p, v: parse_whole(p, v, 1, MAX_GPUS)),
    "live": parse_switch,
    "offline": parse_switch,
    "mmproj": _optional(parse_switch),
    "draft_model": _optional(parse_text),
    "draft_format": _optional(parse_text),
    "lora_rank": _optional(lambda p, v: parse_whole(p, v, 1, 1024)),
    "max_loras": _optional(lambda p, v: parse_whole(p, v, 1, 256)),
}


# ---------------------------------------------------------------------------------------------
# resolution
# ---------------------------------------------------------------------------------------------


@record
class ResolvedPlan:
    """A request made concrete: the model, the parsed format, the engine id, the settings, the budget."""

    request: PlanRequest
    spec: ModelSpec
    format: QuantFormat
    engine: str
    settings: RunSettings
    budget: Budget | None


def resolve_model(request: PlanRequest, *, allow_local: bool = True) -> ModelSpec:
    """The request's model: a catalog id, a local ``config.json`` (CLI only) or a Hub id."""
    from planner.resolve import load_model

    if request.model is None:
        raise RequestError("model", "no model given: a catalog id, a Hugging Face id or a config.json")
    return load_model(
        parse_text("model", request.model), allow_hub=not request.offline, allow_local=allow_local
    )


def ollama_tag(request: PlanRequest):
    """The Ollama library tag the request's model names (``llama3.1:8b``), or ``None``."""
    from planner.ollama_tags import find_tag, looks_like_tag

    if request.model is None or not looks_like_tag(request.model):
        return None
    return find_tag(request.model)


def resolve_format(request: PlanRequest) -> QuantFormat:
    """The request's weight format, parsed once with its options (an Ollama tag's own format by default)."""
    from planner.formats import FormatOptions, UnknownFormatError, parse_format

    text = request.format
    if text is None:
        tag = ollama_tag(request)
        if tag is None:
            raise RequestError("format", "no weight format given, e.g. bf16, bnb-nf4, awq-int4 or q4_k_m")
        text = tag.format
    options = FormatOptions(
        group_size=request.group_size, double_quant=True if request.double_quant else None
    )
    try:
        return parse_format(parse_text("format", text), options)
    except UnknownFormatError as exc:
        raise RequestError("format", str(exc)) from None


def resolve_engine(request: PlanRequest, fmt: QuantFormat) -> str:
    """The engine id: the one asked for (checked to load ``fmt``), Ollama for an Ollama tag, or the format's usual engine."""
    from planner.engines import default_engine, get_engine, refusal

    wanted = request.engine_id
    if wanted is None:
        if ollama_tag(request) is not None and get_engine("ollama").loads(fmt):
            return "ollama"
        return default_engine(fmt).id
    engine = get_engine(parse_text("engine", wanted))
    if not engine.loads(fmt):
        raise RequestError("engine", refusal(engine, fmt))
    return engine.id


def resolve_draft(request: PlanRequest, fmt: QuantFormat, *, allow_local: bool = True) -> DraftModel | None:
    """The draft model the request names, in ``draft_format`` (default: the model's own format)."""
    from planner.errors import PlannerError
    from planner.formats import UnknownFormatError, parse_format
    from planner.memory.estimate import DraftModel
    from planner.resolve import load_model

    if request.draft_model is None:
        if request.draft_format is not None:
            raise RequestError("draft_format", "draft-format given without a draft model")
        return None
    ref = parse_text("draft_model", request.draft_model)
    try:
        spec = load_model(ref, allow_hub=not request.offline, allow_local=allow_local)
    except PlannerError as exc:
        raise RequestError("draft_model", f"draft model: {exc}") from None
    draft_fmt = fmt
    if request.draft_format is not None:
        try:
            draft_fmt = parse_format(parse_text("draft_format", request.draft_format))
        except UnknownFormatError as exc:
            raise RequestError("draft_format", str(exc)) from None
    return DraftModel(spec, draft_fmt, ref)


def resolve_settings(request: PlanRequest, draft: DraftModel | None = None) -> RunSettings:
    """The run settings (the ranges are :class:`~planner.memory.estimate.RunSettings`' own checks)."""
    from planner.memory.estimate import RunSettings

    return RunSettings(
        context=request.context,
        batch=request.batch,
        kv_dtype_k=request.kv_dtype_k or request.kv_dtype,
        kv_dtype_v=request.kv_dtype_v or request.kv_dtype,
        flash_attn=request.flash_attn,
        ubatch=request.ubatch,
        gpu_layers=request.gpu_layers,
        gpu_memory_utilization=request.gpu_memory_utilization,
        max_num_batched_tokens=request.max_num_batched_tokens,
        mmproj=request.mmproj,
        draft=draft,
        lora_rank=request.lora_rank,
        max_loras=request.max_loras,
        max_num_seqs=request.max_num_seqs,
        kv_cache_memory=request.kv_cache_memory,
        enforce_eager=request.enforce_eager,
        mem_fraction_static=request.mem_fraction_static,
        free_gpu_memory_fraction=request.free_gpu_memory_fraction,
    )


def with_gpu(settings: RunSettings, budget: Budget) -> RunSettings:
    """``settings`` that name the budget's first GPU (vLLM chooses kernels and batch defaults by it)."""
    device = budget.devices[0]
    gpu = device.catalog
    return replace(
        settings,
        gpu_name=gpu.name if gpu is not None else device.name,
        gpu_capability=gpu.compute_capability if gpu is not None else None,
        gpu_memory_bytes=device.total_bytes,
    )


def resolve_budget(request: PlanRequest) -> Budget | None:
    """The GPU budget the request names, or ``None`` when it names none (see :func:`planner.fit.budget_for`)."""
    from planner.fit.budget import budget_for

    gpus = request.gpus
    if request.tensor_parallel is not None:
        if gpus is not None and gpus != request.tensor_parallel:
            raise RequestError(
                "tensor_parallel",
                f"tensor parallel {request.tensor_parallel} shards the model over {request.tensor_parallel} GPUs, "
                f"but gpus is {gpus}; give one of them or the same number",
            )
        gpus = request.tensor_parallel
    return budget_for(gpu=request.gpu, vram=request.vram, gpus=gpus, live=request.live)


def resolve(
    request: PlanRequest,
    *,
    allow_local: bool = True,
    spec: ModelSpec | None = None,
    need_budget: bool = False,
) -> ResolvedPlan:
    """Parse and validate every part of ``request`` once.

    ``allow_local=False`` (the app, the API) never reads a file named in the request. ``spec``
    stands in for the model when the caller already holds one (an uploaded ``config.json``).
    ``need_budget`` makes a missing GPU choice an error.
    """
    model = spec if spec is not None else resolve_model(request, allow_local=allow_local)
    fmt = resolve_format(request)
    engine = resolve_engine(request, fmt)
    settings = resolve_settings(request, resolve_draft(request, fmt, allow_local=allow_local))
    budget = resolve_budget(request)
    if budget is not None:
        settings = with_gpu(settings, budget)
    if need_budget and budget is None:
        raise RequestError("gpu", "no GPU given: a catalog GPU, a memory size or the live reading")
    return ResolvedPlan(request, model, fmt, engine, settings, budget)


__all__ = [
    "DEFAULT_CONTEXT",
    "MAX_TEXT",
    "PARSERS",
    "PlanRequest",
    "RequestError",
    "ResolvedPlan",
    "ollama_tag",
    "parse_bytes",
    "parse_fraction",
    "parse_switch",
    "parse_text",
    "parse_tokens",
    "parse_whole",
    "resolve",
    "resolve_budget",
    "resolve_draft",
    "resolve_engine",
    "resolve_format",
    "resolve_model",
    "resolve_settings",
    "with_gpu",
]
