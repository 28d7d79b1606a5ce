"""llama.cpp partial offload: how many layers (``-ngl``) fit, and for MoE models which experts go to the CPU.

:func:`offload_plan` searches ``-ngl`` with the llama.cpp engine's own placement
(``planner/engines/llamacpp/weights.py``: layers offloaded from the tail, output layer first).
:func:`experts_on_cpu` models ``--n-cpu-moe N`` (``-ot "blk\\.i\\.ffn_.*_exps=CPU"``), which the
engine has no setting for: it takes the all-on-GPU estimate and moves the routed-expert tensors of
layers ``0..N-1`` (exact per-layer GGUF bytes) to host memory; :func:`cpu_moe_plan` finds the
smallest ``N`` that fits.
"""

from __future__ import annotations

import re
from dataclasses import replace

from planner.engines import estimate as engine_estimate
from planner.engines import get_engine
from planner.fit.budget import Budget, FitError
from planner.fit.solvers import FitResult, Limit, fit_estimate, largest_fitting, parsed
from planner.formats import QuantFormat
from planner.formats.gguf import GgufTensor, gguf_tensors
from planner.frozen import record
from planner.hardware.units import format_gib, format_short
from planner.memory.estimate import MemoryEstimate, RunSettings
from planner.memory.figure import Figure
from planner.model.spec import ModelSpec

#: ``LLM_FFN_EXPS_REGEX`` of llama.cpp ``common/common.h``, matched with a search like the loader's
#: buffer-type overrides; ``--n-cpu-moe N`` pushes ``blk\.{i}`` + this for ``i < N`` (``common/arg.cpp``).
EXPERT_PATTERN = r"\.ffn_(up|down|gate|gate_up)_(ch|)exps"
CPU_MOE_SOURCE = (
    "ggml-org/llama.cpp common/arg.cpp -ncmoe/--n-cpu-moe N ('keep the MoE weights of the first N layers in "
    "the CPU': one tensor_buft_override llm_ffn_exps_block_regex(i) -> CPU buffer type per layer i < N), "
    "--cpu-moe (all layers); common/common.h LLM_FFN_EXPS_REGEX"
)
#: ggml-cuda ``offload_op``: ops on CPU-resident weights run on the GPU (weights copied in) from this batch on.
OP_OFFLOAD_MIN_BATCH = 32


@record
class ExpertPlan:
    """``--n-cpu-moe N``: the fewest layers whose routed experts must stay in host memory.

    ``n_cpu_moe`` is ``None`` when even every layer's experts on the CPU is not enough
    (then ``fit`` is that attempt). ``moved_bytes`` is the expert bytes kept in host memory.
    """

    n_cpu_moe: int | None
    n_layer: int
    moved_bytes: int
    fit: FitResult
    host_bytes: int
    host_ram_bytes: int | None
    host_fits: bool | None
    notes: tuple[str, ...] = ()

    @property
    def flag(self) -> str:
        """The llama.cpp arguments (``-ngl 99 --n-cpu-moe 12``)."""
        if self.n_cpu_moe is None:
            return ""
        if self.n_cpu_moe >= self.n_layer:
            return "-ngl 99 --cpu-moe"
        return "-ngl 99" + (f" --n-cpu-moe {self.n_cpu_moe}" if self.n_cpu_moe else "")


@record
class OffloadPlan:
    """The most layers llama.cpp can keep on the GPU(s) (``-ngl``) and the host memory the rest needs.

    ``gpu_layers`` is ``None`` when not even ``-ngl 0`` fits (the CUDA context and buffers alone
    exceed the budget). ``experts`` is the ``--n-cpu-moe`` alternative for MoE models.
    ``host_ram_bytes`` is the host memory the CPU side was judged against: the one given, or on
    unified memory what the GPU side leaves of the shared memory.
    """

    gpu_layers: int | None
    n_layer: int
    fit: FitResult
    host_bytes: int
    host_ram_bytes: int | None
    host_fits: bool | None
    experts: ExpertPlan | None = None
    notes: tuple[str, ...] = ()

    @property
    def all_on_gpu(self) -> bool:
        """Every repeating layer and the output layer on the GPU."""
        return self.gpu_layers is not None and self.gpu_layers >= self.n_layer + 1

    @property
    def repeating_on_gpu(self) -> int:
        """Repeating layers on the GPU (``-ngl`` counts the output layer first)."""
        return max(min((self.gpu_layers or 0) - 1, self.n_layer), 0)

    @property
    def flag(self) -> str:
        """The llama.cpp argument (``-ngl 41``)."""
        return "" if self.gpu_layers is None else f"-ngl {self.gpu_layers}"


#: Engines that place layers with llama.cpp's rules (Ollama runs llama-server).
OFFLOAD_ENGINES = ("llama.cpp", "ollama")


def _llamacpp_format(fmt: QuantFormat, engine: str = "llama.cpp") -> QuantFormat:
    chosen = parsed(fmt)
    if engine not in OFFLOAD_ENGINES:
        raise FitError(f"partial offload is a llama.cpp plan (llama.cpp, ollama), not {engine}")
    if not get_engine(engine).loads(chosen):
        raise FitError(
            f"partial offload is a llama.cpp plan; {engine} does not load '{chosen.id}' (use a GGUF type)"
        )
    return chosen


def _host(
    est: MemoryEstimate, host_ram_bytes: int | None, budget: Budget
) -> tuple[bool | None, list[str], int | None]:
    """(host side fits?, notes, the host memory it was judged against).

    On unified memory the host side and the GPU draw from one memory: the host room is what the
    plan's GPU bytes leave of it (:meth:`Budget.host_room`), whatever ``host_ram_bytes`` says.
    """
    notes = []
    room = budget.host_room(est.total)
    if room is not None:
        if host_ram_bytes is not None:
            notes.append(
                f"host RAM given ({format_gib(host_ram_bytes)}) is ignored: on unified memory the CPU side is "
                "what the GPU leaves of the same memory"
            )
        ok = est.host_total <= room
        shared = room + est.total
        notes.append(
            f"unified memory: the layers and buffers kept on the CPU ({format_gib(est.host_total)}) use the same "
            f"{format_gib(shared)} as the GPU's {format_gib(est.total)}: {format_gib(max(room, 0))} left for them"
            + ("" if ok else "; short: mmap pages weights in from disk on demand (it runs, slowly)")
        )
        return ok, notes, room
    ok = None
    if host_ram_bytes is not None:
        ok = est.host_total <= host_ram_bytes
        if not ok:
            notes.append(
                f"host memory short: {format_gib(est.host_total)} needed, {format_gib(host_ram_bytes)} given "
                "(mmap pages weights in from disk on demand: it runs, slowly)"
            )
    return ok, notes, host_ram_bytes


def offload_plan(
    spec: ModelSpec,
    fmt: QuantFormat,
    settings: RunSettings | None,
    budget: Budget,
    host_ram_bytes: int | None = None,
    engine: str = "llama.cpp",
) -> OffloadPlan:
    """The largest ``-ngl`` whose estimate fits ``budget``, the host memory it leaves, and for MoE models
    the ``--n-cpu-moe`` alternative (:func:`cpu_moe_plan`).

    GPU bytes grow with ``-ngl``: each step moves one layer's weights and KV to the GPU, and the
    op-offload staging buffer (one CPU layer's largest tensor) never exceeds the layer it replaces.
    """
    chosen = _llamacpp_format(fmt, engine)
    base = settings or RunSettings()
    notes: list[str] = []
    if base.gpu_layers is not None:
        notes.append(f"gpu_layers {base.gpu_layers} in the settings is ignored: the plan searches -ngl")
    n_layer = spec.num_layers

    def check(ngl: int) -> FitResult:
        return fit_estimate(engine_estimate(spec, chosen, engine, replace(base, gpu_layers=ngl)), budget)

    limit: Limit = largest_fitting("gpu_layers", check, n_layer + 1, notes, low=0)
    est = limit.fit.estimate
    host_ok, host_notes, host_room = _host(est, host_ram_bytes, budget)
    notes = [*limit.notes, *host_notes]
    if limit.value is not None and limit.value <= n_layer:
        notes.append(
            f"-ngl {limit.value}: {max(limit.value - 1, 0)} of {n_layer} repeating layers"
            + (" and the output layer" if limit.value else "")
            + " on the GPU; -ngl counts the output layer first, then layers from the last"
        )
    gguf = (
        chosen.family == "gguf"
    )  # --n-cpu-moe moves GGUF expert tensors (Ollama's gpt-oss MXFP4 blob aside)
    experts = (
        cpu_moe_plan(spec, chosen, base, budget, host_ram_bytes, engine) if spec.is_moe and gguf else None
    )
    return OffloadPlan(
        gpu_layers=limit.value,
        n_layer=n_layer,
        fit=limit.fit,
        host_bytes=est.host_total,
        host_ram_bytes=host_room,
        host_fits=host_ok,
        experts=experts,
        notes=tuple(notes),
    )


# ---------------------------------------------------------------------------------------------
# experts to the CPU
# ---------------------------------------------------------------------------------------------


def expert_tensors(spec: ModelSpec, fmt: QuantFormat) -> tuple[GgufTensor, ...]:
    """The GGUF tensors ``--n-cpu-moe`` moves (routed experts: ``blk.i.ffn_{up,down,gate,gate_up}_exps``).

    Shared experts (``ffn_*_shexp``) and the router (``ffn_gate_inp``) stay on the GPU.
    """
    chosen = _llamacpp_format(fmt)
    pattern = re.compile(r"^blk\.\d+" + EXPERT_PATTERN)
    return tuple(t for t in gguf_tensors(spec, chosen.id) if t.layer is not None and pattern.search(t.name))


def expert_bytes_by_layer(spec: ModelSpec, fmt: QuantFormat) -> dict[int, int]:
    """Routed-expert bytes of each layer (exact GGUF bytes; layers without experts are left out)."""
    out: dict[int, int] = {}
    for t in expert_tensors(spec, fmt):
        assert t.layer is not None
        out[t.layer] = out.get(t.layer, 0) + t.nbytes
    return out


def _shifted(fig: Figure, delta: int, rule: str, source: str, parts: dict[str, int]) -> Figure:
    low, high = fig.band
    return Figure(
        fig.bytes + delta,
        f"{fig.rule}; {rule}",
        keys=(*fig.keys, "n_cpu_moe"),
        source=f"{fig.source}; {source}" if fig.source else source,
        exact=fig.exact,
        low=None if fig.exact else low + delta,
        high=None if fig.exact else high + delta,
        parts=parts,
    )


def experts_on_cpu(
    spec: ModelSpec, fmt: QuantFormat, settings: RunSettings | None, n_cpu_moe: int, engine: str = "llama.cpp"
) -> MemoryEstimate:
    """The llama.cpp estimate with every layer on the GPU except the routed experts of layers ``0..n-1``.

    The rule (llama.cpp ``--n-cpu-moe``): those expert tensors load into a CPU buffer, the rest of
    each layer and its KV cache stay on the GPU. GPU weights lose exactly their bytes and host
    weights gain them. For batches of ``OP_OFFLOAD_MIN_BATCH`` tokens or more (prompt processing)
    the CUDA backend runs the expert matmuls itself and copies the weights in, so the GPU compute
    buffer gains the largest moved tensor (the engine's own op-offload staging rule).
    """
    chosen = _llamacpp_format(fmt, engine)
    if isinstance(n_cpu_moe, bool) or not isinstance(n_cpu_moe, int) or not 0 <= n_cpu_moe <= spec.num_layers:
        raise FitError(f"n_cpu_moe must be between 0 and {spec.num_layers} (layers), not {n_cpu_moe!r}")
    if not spec.is_moe:
        raise FitError(f"{spec.name} has no routed experts; --n-cpu-moe does nothing")
    base = engine_estimate(spec, chosen, engine, replace(settings or RunSettings(), gpu_layers=None))
    moved_tensors = [t for t in expert_tensors(spec, chosen) if t.layer is not None and t.layer < n_cpu_moe]
    moved = sum(t.nbytes for t in moved_tensors)
    if not moved:
        return base
    staging = max(t.nbytes for t in moved_tensors)
    span = "layer 0" if n_cpu_moe == 1 else f"layers 0-{n_cpu_moe - 1}"
    what = f"--n-cpu-moe {n_cpu_moe}: routed-expert tensors of {span} (blk.i{EXPERT_PATTERN}) in host memory"
    w_parts = dict(base.weights.parts)
    w_parts["layers"] = w_parts.get("layers", 0) - moved
    h_parts = {**base.host_weights.parts, "cpu_moe_experts": moved}
    a_parts = dict(base.activations.parts)
    a_parts["cpu_weights_staging"] = a_parts.get("cpu_weights_staging", 0) + staging
    weights = _shifted(base.weights, -moved, f"{what}, -{format_short(moved)}", CPU_MOE_SOURCE, w_parts)
    host_weights = _shifted(
        base.host_weights, moved, f"{what}, +{format_short(moved)}", CPU_MOE_SOURCE, h_parts
    )
    activations = _shifted(
        base.activations,
        staging,
        f"+ largest CPU expert tensor staged for op offload {format_short(staging)} "
        f"(batches of {OP_OFFLOAD_MIN_BATCH}+ tokens run the expert matmul on the GPU)",
        "ggml-org/llama.cpp ggml/src/ggml-cuda/ggml-cuda.cu offload_op (min_batch_size 32); ggml-backend.cpp "
        "scheduler copies CPU weights of offloaded ops",
        a_parts,
    )
    note = (
        f"{what}: {format_short(moved)} moved; all layers' attention and KV cache stay on the GPU; decode "
        f"(batches under {OP_OFFLOAD_MIN_BATCH} tokens) runs those experts on the CPU, reading host memory"
    )
    return replace(
        base,
        weights=weights,
        host_weights=host_weights,
        activations=activations,
        notes=(*base.notes, note),
    )


def cpu_moe_plan(
    spec: ModelSpec,
    fmt: QuantFormat,
    settings: RunSettings | None,
    budget: Budget,
    host_ram_bytes: int | None = None,
    engine: str = "llama.cpp",
) -> ExpertPlan:
    """The smallest ``--n-cpu-moe N`` (with ``-ngl 99``) whose estimate fits ``budget``.

    GPU bytes fall as ``N`` grows (each step moves one more layer's experts out), so the search is
    a binary search; ``N = 0`` means everything fits on the GPU as it is.
    """
    chosen = _llamacpp_format(fmt, engine)
    n_layer = spec.num_layers
    moves = expert_bytes_by_layer(spec, chosen)

    def check(n: int) -> FitResult:
        return fit_estimate(experts_on_cpu(spec, chosen, settings, n, engine), budget)

    notes: list[str] = []
    top = check(n_layer)
    if not top.fits:
        why = "; ".join(top.blockers) or f"short by {format_gib(-top.tightest.headroom_bytes)}"
        notes.append(
            f"even every layer's experts on the CPU (--cpu-moe) does not fit: {why}; combine with -ngl"
        )
        host_ok, host_notes, host_room = _host(top.estimate, host_ram_bytes, budget)
        return ExpertPlan(
            None, n_layer, sum(moves.values()), top, top.estimate.host_total, host_room, host_ok,
            (*notes, *host_notes),
        )  # fmt: skip
    lo, lo_fit = n_layer, top  # smallest fitting found so far
    first = check(0)
    if first.fits:
        lo, lo_fit = 0, first
    else:
        bad = 0
        while lo - bad > 1:
            mid = (lo + bad) // 2
            result = check(mid)
            if result.fits:
                lo, lo_fit = mid, result
            else:
                bad = mid
    moved = sum(b for layer, b in moves.items() if layer < lo)
    host_ok, host_notes, host_room = _host(lo_fit.estimate, host_ram_bytes, budget)
    if lo:
        notes.append(
            f"--n-cpu-moe {lo} fits and --n-cpu-moe {lo - 1} does not: {format_gib(moved)} of routed experts "
            "in host memory"
        )
    else:
        notes.append("everything fits on the GPU: no experts need to move")
    return ExpertPlan(
        lo, n_layer, moved, lo_fit, lo_fit.estimate.host_total, host_room, host_ok, (*notes, *host_notes)
    )


__all__ = [
    "CPU_MOE_SOURCE",
    "EXPERT_PATTERN",
    "OFFLOAD_ENGINES",
    "ExpertPlan",
    "OffloadPlan",
    "cpu_moe_plan",
    "expert_bytes_by_layer",
    "expert_tensors",
    "experts_on_cpu",
    "offload_plan",
]
