"""Public start-up logs of the serving engines (``data/public_logs/<engine>.json``), replayed.

Each record quotes the lines an engine printed at start-up (with the page it comes from, the
engine version, GPU, model, format and flags) and keeps the printed figures in ``printed``.
:func:`replay` runs the current planner on the record's configuration and :func:`compare` sets
each printed figure next to the planner's; a figure is compared only when every input it depends
on is known (a flag that is neither printed nor a documented default leaves it out).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from planner.errors import PlannerError
from planner.formats.registry import parse_format
from planner.frozen import record
from planner.hardware.gpus import find_gpu
from planner.memory.startup import ServerSettings, Startup
from planner.resolve import load_model

LOGS_DIR = Path(__file__).resolve().parents[2] / "data" / "public_logs"
GIB = 1 << 30
ENGINES = ("vllm", "sglang", "trtllm")

#: printed key -> what it is (tables and error messages)
COMPONENTS = {
    "weights": "Weights (per GPU)",
    "torch_peak": "Profile peak (activations)",
    "non_torch": "Non-torch memory",
    "kv_available": "KV cache memory",
    "kv_tokens": "KV cache tokens",
}


@record
class LogRecord:
    """One public start-up log."""

    engine: str
    id: str
    url: str
    engine_version: str
    engine_core: str  # vLLM: "v1" or "v0" (the V0 engine, removed in v0.11); "" elsewhere
    gpu: str
    total_gib: float | None
    model: str
    format: str
    settings: dict[str, Any]
    printed: dict[str, float]
    lines: tuple[str, ...]
    backend: str | None = None  # vLLM MXFP4 MoE backend printed in the log

    @property
    def device_bytes(self) -> int:
        """The GPU's total memory as the engine saw it (printed), else the catalog's NVML total."""
        if self.total_gib:
            return round(self.total_gib * GIB)
        gpu = find_gpu(self.gpu)
        return gpu.gpu_usable_bytes or gpu.memory_bytes


def _record(engine: str, row: dict[str, Any]) -> LogRecord:
    for key in ("id", "source", "engine_version", "gpu", "model", "format", "settings", "printed", "lines"):
        if key not in row:
            raise PlannerError(f"public_logs/{engine}.json: record {row.get('id', '?')!s:.40} lacks '{key}'")
    if not row["lines"] or not row["printed"]:
        raise PlannerError(
            f"public_logs/{engine}.json: record {row['id']:.40} needs printed lines and figures"
        )
    return LogRecord(
        engine=engine,
        id=row["id"],
        url=row["source"]["url"],
        engine_version=row["engine_version"],
        engine_core=row.get("engine_core", ""),
        gpu=row["gpu"],
        total_gib=row.get("total_gib"),
        model=row["model"],
        format=row["format"],
        settings=dict(row["settings"]),
        printed=dict(row["printed"]),
        lines=tuple(row["lines"]),
        backend=row.get("mxfp4_backend"),
    )


@cache
def load_records(engine: str) -> tuple[LogRecord, ...]:
    """Every record of ``engine`` (``vllm``, ``sglang``, ``trtllm``)."""
    if engine not in ENGINES:
        raise PlannerError(f"no public logs for engine '{engine:.40}'; known: {', '.join(ENGINES)}")
    data = json.loads((LOGS_DIR / f"{engine}.json").read_text(encoding="utf-8"))
    return tuple(_record(engine, row) for row in data["records"])


def all_records() -> tuple[LogRecord, ...]:
    """The records of every engine."""
    return tuple(r for engine in ENGINES for r in load_records(engine))


# ---------------------------------------------------------------------------------------------
# replay
# ---------------------------------------------------------------------------------------------


def _vllm(record: LogRecord) -> Startup:
    from planner.engines.vllm import startup as vllm

    s = record.settings
    gpu = find_gpu(record.gpu)
    settings = ServerSettings(
        tensor_parallel=s.get("tensor_parallel_size") or 1,
        max_model_len=s.get("max_model_len"),
        kv_cache_dtype=s.get("kv_cache_dtype") or "auto",
        gpu_memory_utilization=s.get("gpu_memory_utilization"),
        max_num_batched_tokens=s.get("max_num_batched_tokens"),
        max_num_seqs=s.get("max_num_seqs"),
        enforce_eager=bool(s.get("enforce_eager")),
    )
    return vllm.startup(
        load_model(record.model),
        parse_format(record.format),
        record.device_bytes,
        settings,
        gpu_name=gpu.name,
        compute_capability=gpu.compute_capability_tuple,
        mxfp4=record.backend,
    )


def _sglang(record: LogRecord) -> Startup:
    from planner.engines.sglang import startup as sglang

    s = record.settings
    gpu = find_gpu(record.gpu)
    settings = ServerSettings(
        tensor_parallel=s.get("tensor_parallel_size") or 1,
        max_model_len=s.get("context_length"),
        kv_cache_dtype=s.get("kv_cache_dtype") or "auto",
        mem_fraction_static=s.get("mem_fraction_static"),
        chunked_prefill_size=s.get("chunked_prefill_size"),
        cuda_graph_max_bs=s.get("cuda_graph_max_bs"),
    )
    return sglang.startup(
        load_model(record.model),
        parse_format(record.format),
        record.device_bytes,
        settings,
        gpu_name=gpu.name,
    )


def _trtllm(record: LogRecord) -> Startup:
    from planner.engines.trtllm import startup as trtllm

    s = record.settings
    settings = ServerSettings(
        tensor_parallel=s.get("tensor_parallel_size") or 1,
        kv_cache_dtype=s.get("kv_cache_dtype") or "auto",
        free_gpu_memory_fraction=s.get("free_gpu_memory_fraction"),
        max_num_tokens=s.get("max_num_tokens"),
        max_batch_size=s.get("max_batch_size"),
    )
    return trtllm.startup(
        load_model(record.model), parse_format(record.format), record.device_bytes, settings
    )


def profile_plan(record: LogRecord):
    """vLLM's profile terms for the record (the sampler and the forward apart, for the calibration)."""
    from planner.engines.shape import model_dtype
    from planner.engines.vllm.activations import profile

    s = record.settings
    fmt = parse_format(record.format)
    return profile(
        load_model(record.model),
        4 if model_dtype(fmt) == "fp32" else 2,
        tp=s.get("tensor_parallel_size") or 1,
        max_num_batched_tokens=s["max_num_batched_tokens"],
        max_num_seqs=s["max_num_seqs"],
    )


def replay(record: LogRecord) -> Startup:
    """The planner's start-up for the record's model, format, GPU and flags."""
    return {"vllm": _vllm, "sglang": _sglang, "trtllm": _trtllm}[record.engine](record)


def comparable(record: LogRecord) -> tuple[str, ...]:
    """The printed components the planner can be held to for this record.

    Weights always (they depend on the model, format, tensor parallelism and GPU only). The
    profile peak, non-torch memory and the KV pool need the V1 engine (vLLM) and every flag that
    sizes the profile and the budget (``None`` in ``settings``: not printed, no documented default).
    """
    s = record.settings
    out = []
    printed = record.printed
    if "weights_gib" in printed:
        out.append("weights")
    if record.engine == "vllm":
        if record.engine_core != "v1":
            return tuple(out)
        profile_known = s.get("max_num_batched_tokens") is not None and s.get("max_num_seqs") is not None
        budget_known = profile_known and s.get("gpu_memory_utilization") is not None
        if "torch_peak_gib" in printed and profile_known:
            out.append("torch_peak")
        if "non_torch_gib" in printed:
            out.append("non_torch")
        if "kv_available_gib" in printed and budget_known:
            out.append("kv_available")
        if "kv_tokens" in printed and budget_known:
            out.append("kv_tokens")
    elif record.engine == "sglang" and s.get("mem_fraction_static") is not None and "kv_tokens" in printed:
        out.append("kv_tokens")
    return tuple(out)


@record
class Comparison:
    """One printed figure next to the planner's (GiB, or tokens for ``kv_tokens``)."""

    record: str
    model: str
    component: str
    printed: float
    predicted: float

    @property
    def error(self) -> float:
        """Relative error of the planner, (predicted - printed) / |printed|."""
        return (self.predicted - self.printed) / abs(self.printed) if self.printed else 0.0


def compare(record: LogRecord, startup: Startup | None = None) -> tuple[Comparison, ...]:
    """Every comparable printed figure of ``record`` against the planner."""
    st = startup or replay(record)
    predicted = {
        "weights": st.weights.bytes / GIB,
        "torch_peak": st.profile_peak.bytes / GIB,
        "non_torch": st.non_torch.bytes / GIB,
        "kv_available": st.kv_pool_bytes / GIB,
        "kv_tokens": float(st.kv_tokens),
    }
    out = []
    for c in comparable(record):
        key = "kv_tokens" if c == "kv_tokens" else f"{c}_gib"
        out.append(Comparison(record.id, record.model, c, float(record.printed[key]), predicted[c]))
    return tuple(out)


def compare_all(records: Iterable[LogRecord]) -> tuple[Comparison, ...]:
    """:func:`compare` over ``records``."""
    return tuple(c for r in records for c in compare(r))


__all__ = [
    "COMPONENTS",
    "Comparison",
    "LogRecord",
    "all_records",
    "comparable",
    "compare",
    "compare_all",
    "load_records",
    "profile_plan",
    "replay",
]
