"""How much GPU memory a plan may use: the devices (catalog, custom size or read live) and each engine's margin.

A :class:`Budget` is hardware only: per-device ``capacity_bytes`` (what the plan starts from: the
catalog's NVML total, a size the user typed, or the free memory NVML reports now) and
``total_bytes`` (the device's whole memory). :meth:`Budget.allowance` applies one engine's rule
for what it lets itself use, because the rules differ:

* llama.cpp ``--fit`` keeps ``--fit-target`` (1024 MiB) free on every device
  (``common/common.h`` ``fit_params_target``; ``common/fit.cpp``).
* vLLM takes ``gpu_memory_utilization x total`` (default 0.9) and gives what weights,
  activations and buffers leave to KV blocks; its CUDA context lives outside that pool, and it
  refuses to start when free memory is below the pool (``vllm/v1/worker/gpu_worker.py``).
* transformers keeps no margin of its own (``transformers_fit_margin_mib`` in
  ``data/engines.json``, 0, with its source and calibration note).

**Unified memory** (Apple silicon, AMD Ryzen AI Max, NVIDIA GB10): the GPU allocation and the
CPU's programs share one memory. A device's ``shared_bytes`` is that memory once the OS has its
part; the plan's GPU bytes and its host bytes (layers left on the CPU, the app's own buffers) must
fit it together (:meth:`Budget.host_room`), so moving layers to "host RAM" frees nothing there.
"""

from __future__ import annotations

import math
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from planner.engines.constants import constant, default, default_source
from planner.errors import PlannerError, RequestError
from planner.frozen import record
from planner.hardware.errors import AmbiguousGpuError, SizeError, UnknownGpuError
from planner.hardware.gpus import Gpu, find_gpu
from planner.hardware.live import read_live_gpus
from planner.hardware.units import MIB, MIN_BARE_BYTES, format_gib, parse_size
from planner.limits import MAX_GPUS
from planner.memo import IdentityCache
from planner.memory.estimate import MemoryEstimate, RunSettings

if TYPE_CHECKING:
    from planner.hardware.device import LiveDevice
    from planner.hardware.machine import MachineReport

VLLM_POOL_SOURCE = (
    "vllm-project/vllm vllm/v1/worker/gpu_worker.py: requested_memory = total_memory x gpu_memory_utilization; "
    "available_kv_cache_memory_bytes = requested_memory - non_kv_cache_memory (weights + torch peak + "
    "non-torch increase); start-up fails when free memory < requested_memory"
)


class FitError(PlannerError):
    """A fit question that cannot be answered: no GPU, an absurd size or count, a plan for the wrong engine."""


@record
class Device:
    """One GPU of a budget: ``capacity_bytes`` is what a plan starts from, ``total_bytes`` the whole device.

    ``shared_bytes`` is set for unified memory only: the memory the GPU allocation and the CPU's
    programs share, after the OS's part (the catalog's ``os_reserve_bytes``, or what is free now).
    """

    name: str
    capacity_bytes: int
    total_bytes: int
    catalog: Gpu | None = None
    shared_bytes: int | None = None

    @property
    def unified(self) -> bool:
        """The GPU shares its memory with the CPU."""
        return self.shared_bytes is not None


@record
class Allowance:
    """What one engine lets itself use on each device of a budget.

    ``blockers`` are reasons the engine would not start whatever the model (vLLM's start-up check).
    """

    engine: str
    usable_bytes: tuple[int, ...]
    margin_bytes: tuple[int, ...]
    rule: str
    source: str
    notes: tuple[str, ...] = ()
    blockers: tuple[str, ...] = ()

    @property
    def total_usable_bytes(self) -> int:
        """Usable bytes over all devices."""
        return sum(self.usable_bytes)


#: The settings an engine's allowance reads (vLLM's pool and graphs, SGLang's static fraction).
ALLOWANCE_SETTINGS = attrgetter(
    "gpu_memory_utilization", "enforce_eager", "kv_cache_memory", "mem_fraction_static"
)
_ALLOWANCES = IdentityCache(1024)
_DEFAULT_SETTINGS = RunSettings()


@record
class Budget:
    """GPU memory to plan against. ``source`` is ``catalog``, ``custom`` or ``live``; ``label`` says it in words."""

    devices: tuple[Device, ...]
    source: str
    label: str
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 1 <= len(self.devices) <= MAX_GPUS:
            raise FitError(f"a budget holds 1 to {MAX_GPUS} GPUs, not {len(self.devices)}")

    @property
    def count(self) -> int:
        """Number of GPUs."""
        return len(self.devices)

    @property
    def names(self) -> tuple[str, ...]:
        """Device names, in order."""
        return tuple(d.name for d in self.devices)

    @property
    def capacity_bytes(self) -> int:
        """Capacity over all devices."""
        return sum(d.capacity_bytes for d in self.devices)

    @property
    def gpu(self) -> Gpu | None:
        """The catalog GPU behind the first device (for speed figures), if known."""
        return self.devices[0].catalog

    @property
    def unified(self) -> bool:
        """Any device shares its memory with the CPU."""
        return any(d.unified for d in self.devices)

    def host_room(self, gpu_bytes: int) -> int | None:
        """Unified memory only: what a plan with ``gpu_bytes`` on the GPU(s) leaves for its host side.

        ``None`` for discrete GPUs (their host memory is separate and not part of the budget).
        """
        shared = [d.shared_bytes for d in self.devices if d.shared_bytes is not None]
        if not shared:
            return None
        return sum(shared) - gpu_bytes

    def allowance(self, engine: str, settings: RunSettings | None = None) -> Allowance:
        """The bytes ``engine`` may use on each device under ``settings`` (vLLM reads its utilization).

        Made once per budget, engine and the settings an allowance reads (a sweep over contexts reuses it).
        """
        settings = settings or _DEFAULT_SETTINGS
        return _ALLOWANCES.get(
            (self,), (engine, *ALLOWANCE_SETTINGS(settings)), lambda: self._allowance(engine, settings)
        )

    def _allowance(self, engine: str, settings: RunSettings) -> Allowance:
        if engine == "llama.cpp":
            return _llamacpp_allowance(self)
        if engine == "ollama":
            return _ollama_allowance(self)
        if engine == "mlx":
            return _mlx_allowance(self)
        if engine == "vllm":
            return _vllm_allowance(self, settings)
        if engine == "transformers":
            return _transformers_allowance(self)
        if engine == "sglang":
            return _sglang_allowance(self, settings)
        if engine == "trtllm":
            return _trtllm_allowance(self)
        raise FitError(f"no memory margin rule for engine '{engine:.40}'")


def unified_check(est: MemoryEstimate, budget: Budget) -> tuple[list[str], list[str]]:
    """(notes, blockers) for a unified-memory budget: the GPU side and the host side share one memory.

    The host side (llama.cpp's CPU buffers and layers, the app's own copies) plus the GPU side must
    fit the shared memory the OS leaves; nothing to say for discrete GPUs. A GPU side that is itself
    too big is the fit's own shortfall (and llama.cpp's offload question), not a blocker here.
    """
    room = budget.host_room(est.total)
    if room is None:
        return [], []
    shared = room + est.total
    host = est.host_total
    text = (
        f"unified memory: GPU side {format_gib(est.total)} + host side {format_gib(host)} of the "
        f"{format_gib(shared)} the GPU and the CPU share after the OS"
    )
    if host > room:
        short = f"{text}: short by {format_gib(host - room)}"
        if est.total > budget.capacity_bytes:
            return [f"{short}; moving layers to the CPU does not help: it is the same memory"], []
        return [], [f"{short} (the host side cannot move anywhere else)"]
    return [f"{text}: {format_gib(room - host)} left for other programs"], []


def charged_bytes(est: MemoryEstimate) -> int:
    """GPU bytes of ``est`` counted against its engine's allowance.

    # NOTE: vLLM's pool (gpu_memory_utilization x total) holds weights, the profile peak, non-torch
    # buffers and KV; the CUDA context was created before the pool was measured (init_snapshot) and
    # v0.19 captures CUDA graphs after sizing the KV cache: both sit in the remaining
    # (1 - utilization) share, so neither is charged (--kv-cache-memory: the pool is exactly that).
    # SGLang's mem_fraction_static holds weights and KV only. TensorRT-LLM gives KV a fraction of
    # what its dry run leaves free: the KV cache costs kv / fraction of the device.
    """
    s = est.settings
    if est.engine == "vllm":
        charged = (
            est.total - est.overhead.parts.get("cuda_context", 0) - est.overhead.parts.get("cuda_graphs", 0)
        )
        if s.kv_cache_memory is not None:
            charged += max(s.kv_cache_memory - est.kv_cache.bytes, 0)
        return charged
    if est.engine == "sglang":
        return est.weights.bytes + est.kv_cache.bytes
    if est.engine == "trtllm":
        from planner.engines.trtllm.startup import FREE_FRACTION

        fraction = s.free_gpu_memory_fraction or FREE_FRACTION
        return (
            est.weights.bytes
            + est.activations.bytes
            + est.overhead.bytes
            + math.ceil(est.kv_cache.bytes / fraction)
        )
    return est.total


# ---------------------------------------------------------------------------------------------
# engine rules
# ---------------------------------------------------------------------------------------------


def _llamacpp_allowance(budget: Budget) -> Allowance:
    target = int(default("llama.cpp", "fit_target_mib")) * MIB
    margins = tuple(min(target, d.capacity_bytes) for d in budget.devices)
    return Allowance(
        engine="llama.cpp",
        usable_bytes=tuple(d.capacity_bytes - m for d, m in zip(budget.devices, margins, strict=True)),
        margin_bytes=margins,
        rule=f"llama.cpp --fit keeps {target // MIB} MiB free per device (--fit-target)",
        source=default_source("llama.cpp", "fit_target_mib"),
    )


def _ollama_allowance(budget: Budget) -> Allowance:
    # NOTE: Ollama v0.32.15 leaves placement to llama-server --fit (1024 MiB target per device); with a
    # projector offloaded it sets LLAMA_ARG_FIT_TARGET = projector + 1 GiB, i.e. the projector (counted in
    # the estimate) plus 1 GiB. OLLAMA_GPU_OVERHEAD and MinimumMemory only enter the logged "available".
    target = 1024 * MIB
    margins = tuple(min(target, d.capacity_bytes) for d in budget.devices)
    return Allowance(
        engine="ollama",
        usable_bytes=tuple(d.capacity_bytes - m for d, m in zip(budget.devices, margins, strict=True)),
        margin_bytes=margins,
        rule="Ollama runs llama-server with --fit: 1024 MiB kept free per device (projector + 1 GiB when one is loaded)",
        source=(
            "ollama/ollama v0.32.15 llm/llama_server.go (no -ngl; LLAMA_ARG_FIT_TARGET = mmproj + 1 GiB), "
            f"server/sched.go; {default_source('llama.cpp', 'fit_target_mib')}"
        ),
        notes=(
            "OLLAMA_GPU_OVERHEAD and Ollama's per-GPU minimum (457 MiB; 512 MiB Metal) only lower the logged "
            "'available' and the default-context tier in v0.32.15; llama-server's --fit target decides placement",
        ),
    )


def _mlx_allowance(budget: Budget) -> Allowance:
    # NOTE: mlx-lm raises Metal's wired limit to max_recommended_working_set_size for generation
    # (generate.py wired_limit) and keeps no margin of its own; on a Mac the budget's capacity already is
    # that working set (data/gpus.json gpu_usable_bytes).
    margins = tuple(0 for _ in budget.devices)
    return Allowance(
        engine="mlx",
        usable_bytes=tuple(d.capacity_bytes for d in budget.devices),
        margin_bytes=margins,
        rule="mlx-lm keeps no margin: it may use the GPU's working set (Metal's recommendedMaxWorkingSetSize)",
        source=(
            "ml-explore/mlx-lm v0.31.3 mlx_lm/generate.py wired_limit (mx.set_wired_limit(max_recommended_working_set_size); "
            "warns when the model's bytes exceed 0.9 of it)"
        ),
        notes=(
            "mlx-lm warns 'close to the maximum recommended size' when the weights alone pass 90% of the working set",
        ),
    )


def _vllm_allowance(budget: Budget, settings: RunSettings) -> Allowance:
    util = settings.gpu_memory_utilization or float(default("vllm", "gpu_memory_utilization"))
    context = constant("cuda_context_mib")
    graphs = 0 if settings.enforce_eager else constant("vllm_cudagraph_mib").bytes
    usable, margins, blockers, notes = [], [], [], []
    for d in budget.devices:
        room = d.capacity_bytes - context.bytes
        if settings.kv_cache_memory is not None:
            pool = max(room - graphs, 0)
        else:
            requested = int(d.total_bytes * util)
            if room < requested:
                blockers.append(
                    f"vLLM would refuse to start on {d.name}: {format_gib(d.capacity_bytes)} free less its CUDA "
                    f"context (~{context.value:g} MiB) is below gpu_memory_utilization {util:g} x "
                    f"{format_gib(d.total_bytes)} = {format_gib(requested)}; use --gpu-memory-utilization "
                    f"{max(room, 0) / d.total_bytes:.2f} or less"
                )
            elif graphs and room - requested < graphs:
                notes.append(
                    f"on {d.name} the pool leaves {format_gib(room - requested)} for CUDA graphs (~{format_gib(graphs)}), "
                    "captured after the KV cache: vLLM can run out of memory during graph capture; lower "
                    "--gpu-memory-utilization or add --enforce-eager"
                )
            pool = min(requested, d.capacity_bytes)
        usable.append(pool)
        margins.append(d.capacity_bytes - pool)
    if settings.kv_cache_memory is not None:
        rule = (
            f"--kv-cache-memory {format_gib(settings.kv_cache_memory)}: vLLM ignores gpu_memory_utilization and may use "
            "the whole GPU less its CUDA context and CUDA graphs"
        )
    else:
        rule = (
            f"vLLM may use gpu_memory_utilization {util:g} x total memory; its CUDA context and (v0.19) CUDA graphs "
            "sit outside that pool"
        )
    return Allowance(
        engine="vllm",
        usable_bytes=tuple(usable),
        margin_bytes=tuple(margins),
        rule=rule,
        source=f"{VLLM_POOL_SOURCE}; {default_source('vllm', 'gpu_memory_utilization')}",
        notes=tuple(dict.fromkeys(notes)),
        blockers=tuple(blockers),
    )


def _sglang_allowance(budget: Budget, settings: RunSettings) -> Allowance:
    from planner.engines.sglang.startup import SRC_ARGS, SRC_POOL, mem_fraction_static

    init = constant("sglang_init_tp_mib") if budget.count > 1 else constant("cuda_context_mib")
    usable, margins, rules = [], [], []
    for d in budget.devices:
        if settings.mem_fraction_static is not None:
            fraction, how = settings.mem_fraction_static, "--mem-fraction-static"
        else:
            fraction, _, _ = mem_fraction_static(d.total_bytes // MIB, budget.count)
            how = "derived from the GPU's memory (server_args.py)"
        pool = max(int(fraction * (d.capacity_bytes - init.bytes)), 0)
        usable.append(pool)
        margins.append(d.capacity_bytes - pool)
        rules.append(f"{fraction:g} ({how})")
    return Allowance(
        engine="sglang",
        usable_bytes=tuple(usable),
        margin_bytes=tuple(margins),
        rule=(
            f"SGLang keeps mem_fraction_static {rules[0]} of the memory free after start-up for weights and the KV "
            "pool; activations and CUDA graphs live in the rest"
        ),
        source=f"{SRC_ARGS}; {SRC_POOL}",
    )


def _trtllm_allowance(budget: Budget) -> Allowance:
    from planner.engines.trtllm.startup import SRC, SRC_DEFAULTS

    return Allowance(
        engine="trtllm",
        usable_bytes=tuple(d.capacity_bytes for d in budget.devices),
        margin_bytes=tuple(0 for _ in budget.devices),
        rule=(
            "TensorRT-LLM gives the KV cache free_gpu_memory_fraction of what its dry run leaves free: the plan "
            "fits when weights + dry-run peak + KV / fraction fit the device"
        ),
        source=f"{SRC}; {SRC_DEFAULTS}",
    )


def _transformers_allowance(budget: Budget) -> Allowance:
    c = constant("transformers_fit_margin_mib")
    margins = tuple(min(c.bytes, d.capacity_bytes) for d in budget.devices)
    notes = ()
    if not c.bytes:
        notes = (
            "transformers keeps no free-memory margin: the estimate's overhead already holds the CUDA context, "
            "cuBLAS workspaces and allocator slack; leave room for other processes yourself",
        )
    return Allowance(
        engine="transformers",
        usable_bytes=tuple(d.capacity_bytes - m for d, m in zip(budget.devices, margins, strict=True)),
        margin_bytes=margins,
        rule=f"transformers: margin {c.value:g} MiB per device (transformers_fit_margin_mib)",
        source=c.source,
        notes=notes,
    )


# ---------------------------------------------------------------------------------------------
# where budgets come from
# ---------------------------------------------------------------------------------------------


def _checked_count(count: int) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_GPUS:
        raise FitError(f"the GPU count must be between 1 and {MAX_GPUS}, not {count!r}")
    return count


def _checked_size(size: str | int) -> int:
    value = parse_size(size)
    if value <= 0:
        raise FitError(f"a GPU needs some memory: '{size}' is 0 bytes")
    return value


def _numbered(name: str, index: int, count: int) -> str:
    """Device names that tell several equal GPUs apart (``GPU 1: NVIDIA GeForce RTX 4090``), as NVML numbers them."""
    return name if count == 1 else f"GPU {index}: {name}"


def _times(count: int, text: str) -> str:
    return text if count == 1 else f"{count} x {text}"


def budget_for(
    gpu: Gpu | str | None = None,
    vram: str | int | None = None,
    gpus: int | None = None,
    live: bool = False,
) -> Budget | None:
    """The one way from a GPU choice to a :class:`Budget` (the CLI, the app and the API all call it).

    ``live``: this machine's free memory; ``gpu``: a catalog GPU (``vram`` then overrides its
    memory); ``vram`` alone: GPUs of that size; ``gpus`` copies (default 1). ``None`` when nothing
    names a GPU. A bare number of bytes under 1 MiB (``24``) is refused: it is a size typed
    without its unit.
    """
    if isinstance(vram, str) and not vram.strip():
        vram = None
    if vram is not None:
        text = str(vram).strip()
        if text.isdigit() and int(text) < MIN_BARE_BYTES:
            raise RequestError(
                "vram",
                f"the GPU memory '{text:.20}' reads as {int(text)} bytes; give the unit: {text}GiB "
                f"(x 2^30 bytes) or {text}GB (x 10^9 bytes)",
            )
    if live:
        if gpu or vram is not None:
            raise RequestError(
                "live", "a live reading uses this machine's GPUs: leave out the GPU name and size"
            )
        return budget_from_live(gpus)
    try:
        if gpu:
            return budget_from_gpu(gpu, gpus or 1, vram=vram)
        if vram is not None:
            return budget_from_size(vram, gpus or 1)
    except SizeError as exc:
        raise RequestError("vram", str(exc)) from None
    except (UnknownGpuError, AmbiguousGpuError) as exc:
        raise RequestError("gpu", str(exc)) from None
    if gpus is not None:
        raise RequestError(
            "gpus", "a GPU count needs a GPU: a catalog GPU, a memory size or the live reading"
        )
    return None


def budget_from_gpu(gpu: Gpu | str, count: int = 1, vram: str | int | None = None) -> Budget:
    """``count`` copies of a catalog GPU (a :class:`Gpu` or a name for :func:`find_gpu`).

    ``vram`` overrides the memory (``"20GiB"``) while keeping the GPU's identity for speed figures;
    on a unified-memory machine it is the GPU allocation set in the BIOS, ``ttm.pages_limit`` or
    ``iogpu.wired_limit_mb``, and the machine's memory stays shared with the CPU.
    """
    card = find_gpu(gpu) if isinstance(gpu, str) else gpu
    count = _checked_count(count)
    notes: list[str] = []
    shared = card.shared_bytes
    if vram is not None:
        capacity = _checked_size(vram)
        total = capacity
        label = f"{_times(count, card.name)} with {format_gib(capacity)} each (memory given)"
        source = "custom"
        if card.unified_memory:
            if capacity > card.memory_bytes:
                raise FitError(
                    f"the {card.name} has {format_gib(card.memory_bytes)} of unified memory: a GPU allocation "
                    f"of {format_gib(capacity)} cannot be set"
                )
            total = card.memory_bytes
            label = f"{_times(count, card.name)} with a {format_gib(capacity)} GPU allocation (memory given)"
    else:
        capacity, total = card.plan_bytes, card.memory_bytes
        basis = "NVML total" if card.memory_basis == "nvml" else "nominal capacity"
        if card.unified_memory:
            basis = (
                "GPU share of unified memory, approximate: less the OS's share"
                if card.os_reserve_bytes is not None and capacity < card.usable_bytes
                else "GPU share of unified memory"
            )
        label = f"{_times(count, card.name)}, {format_gib(capacity)} each (catalog, {basis})"
        source = "catalog"
        if card.memory_basis == "nvml":
            notes.append(
                "catalog memory is the NVML total; an idle GPU reports less free (driver reservations, "
                "a display, other processes): plan on the live reading of this machine's GPU for what is free now"
            )
        elif not card.unified_memory:
            notes.append(f"catalog memory is the nominal {card.memory_nominal}; NVML reports a little less")
    if card.unified_memory:
        notes.extend(_unified_notes(card, capacity, shared))
    devices = tuple(
        Device(_numbered(card.name, i, count), capacity, total, card, shared) for i in range(count)
    )
    return Budget(devices, source, label, tuple(notes))


def _unified_notes(card: Gpu, capacity: int, shared: int | None) -> list[str]:
    """Say, with figures, how a unified-memory machine's memory is split between the GPU, the CPU and the OS."""
    notes = [
        f"unified memory: the {card.name}'s GPU and CPU share {format_gib(card.memory_bytes)}; the GPU may "
        f"allocate {format_gib(card.usable_bytes)} ({card.gpu_usable_source})"
    ]
    if card.os_reserve_bytes is not None:
        notes.append(
            f"the OS, firmware and desktop keep about {format_gib(card.os_reserve_bytes)} "
            f"({card.os_reserve_source}); approximate: it varies with what else runs"
        )
    else:
        notes.append(
            "the OS needs part of the rest; no published reading for this machine, so none is subtracted"
        )
    if shared is not None:
        notes.append(
            f"the plan starts from {format_gib(capacity)} for the GPU; whatever it keeps on the host side "
            f"(layers left on the CPU, the app's own buffers) comes out of the same {format_gib(shared)}, "
            f"leaving {format_gib(max(shared - capacity, 0))} when the GPU share is full"
        )
    return notes


def budget_from_size(size: str | int, count: int = 1, name: str | None = None) -> Budget:
    """``count`` GPUs of ``size`` each (``"24GiB"`` is 24 x 2**30 bytes, ``"24GB"`` 24 x 10**9)."""
    capacity = _checked_size(size)
    count = _checked_count(count)
    label_name = name or f"GPU with {format_gib(capacity)}"
    base = name or f"custom {format_gib(capacity)}"
    devices = tuple(Device(_numbered(base, i, count), capacity, capacity, None) for i in range(count))
    return Budget(devices, "custom", f"{_times(count, label_name)} (memory given)")


def _live_device(d: LiveDevice) -> Device | None:
    """A budget device from a live reading, or ``None`` when the reader gave no usable memory figure."""
    capacity = d.capacity_bytes
    total = d.gpu_limit_bytes if d.unified and d.gpu_limit_bytes is not None else d.total_bytes
    if capacity is None or total is None:
        return None
    shared = None
    if d.unified:
        # Free memory now already leaves the OS and every running program their part.
        shared = d.free_bytes if d.free_bytes is not None else d.total_bytes
    return Device(d.label, capacity, max(total, capacity), d.catalog, shared)


def budget_from_live(
    count: int | None = None, nvml: Any = None, machine: MachineReport | None = None
) -> Budget:
    """What this machine's first ``count`` GPUs (default 1) have free now, whatever the vendor.

    NVIDIA GPUs through NVML (MIG instances count as GPUs of their own), a Mac's GPU (its Metal
    working-set limit, not the whole memory), AMD GPUs and APUs (VRAM, and GTT for APUs) and Intel
    GPUs (see :func:`planner.hardware.machine.read_machine`). Raises :class:`FitError` with every
    reader's reason when no GPU can be read, and when fewer than ``count`` GPUs report their memory.
    """
    if machine is None:
        from planner.hardware.machine import read_machine

        machine = read_machine(nvml_report=read_live_gpus(nvml))
    if not machine.available:
        raise FitError(machine.reason or "no GPU detected")
    devices: list[Device] = []
    readers: list[str] = []
    notes: list[str] = list(dict.fromkeys([*machine.nvml.warnings, *machine.warnings]))
    for d in machine.devices:
        device = _live_device(d)
        if device is None:
            notes.append(f"{d.label}: {d.reader} gave no memory figures; skipped")
            continue
        devices.append(device)
        readers.append(d.reader)
        if d.unified:
            notes.append(
                f"unified memory ({d.label}): the GPU and the CPU share {format_gib(d.total_bytes or 0)}; "
                f"GPU limit {format_gib(d.gpu_limit_bytes or 0)} ({d.gpu_limit_rule}); the plan starts from "
                f"{format_gib(device.capacity_bytes)}, and its host side shares the same memory"
            )
        notes.extend(f"{d.label}: {note}" for note in d.notes if note.startswith("approximate"))
    if not devices:
        raise FitError("GPUs were found but none reported its memory: " + "; ".join(notes))
    wanted = 1 if count is None else _checked_count(count)
    if wanted > len(devices):
        raise FitError(f"asked for {wanted} GPUs, this machine reports memory for {len(devices)}")
    if count is None and len(devices) > 1:
        notes.append(f"{len(devices)} GPUs found; planning on the first (pass a count to plan across more)")
    chosen = tuple(devices[:wanted])
    free = ", ".join(
        f"{format_gib(d.capacity_bytes)} {'for the GPU' if d.unified else 'free'} of {format_gib(d.total_bytes)}"
        for d in chosen
    )
    used = set(readers[:wanted])
    how = "NVML" if used <= {"nvml"} else ", ".join(sorted(used))
    label = f"{', '.join(d.name for d in chosen)} (live {how}: {free})"
    return Budget(chosen, "live", label, tuple(notes))


__all__ = [
    "MAX_GPUS",
    "Allowance",
    "Budget",
    "Device",
    "FitError",
    "budget_for",
    "budget_from_gpu",
    "budget_from_live",
    "budget_from_size",
    "charged_bytes",
    "unified_check",
]
