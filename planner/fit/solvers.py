"""Fit answers against a :class:`~planner.fit.budget.Budget`: fits, max context, max batch, vLLM KV capacity, best format.

Every answer carries the :class:`~planner.memory.estimate.MemoryEstimate` behind it; the memory
arithmetic stays in the engines (:func:`planner.engines.estimate`), and several GPUs are split by
:mod:`planner.fit.multi_gpu`. The searches rely on GPU bytes growing with context and batch, and
return an exact boundary: the value fits, value + 1 does not.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, NamedTuple

from planner.engines import default_engine, get_engine
from planner.engines import estimate as engine_estimate
from planner.engines.constants import default
from planner.engines.shape import model_dtype
from planner.errors import PlannerError
from planner.fit.budget import (
    ALLOWANCE_SETTINGS,
    Allowance,
    Budget,
    Device,
    FitError,
    charged_bytes,
    unified_check,
)
from planner.fit.multi_gpu import SplitPlan, split_layers, split_tensor_parallel
from planner.formats import QuantFormat, parse_format
from planner.frozen import record
from planner.hardware.units import format_gib
from planner.memo import IdentityCache
from planner.memory import kv
from planner.memory.estimate import MAX_BATCH, MAX_CONTEXT, MemoryEstimate, RunSettings, SettingsError
from planner.model.spec import AttentionKind, ModelSpec

#: Engines that shard one model over several GPUs by tensor parallelism (the others split layers).
TENSOR_PARALLEL_ENGINES = frozenset({"vllm", "sglang", "trtllm"})

#: Formats tried when none are given: a spread of bit widths each engine loads, highest first.
REPRESENTATIVE_FORMATS: dict[str | None, tuple[str, ...]] = {
    "llama.cpp": ("gguf-f16", "q8_0", "q6_k", "q5_k_m", "q4_k_m", "iq4_xs", "q3_k_m", "q2_k", "iq2_xxs"),
    "transformers": ("bf16", "fp8", "bnb-int8", "bnb-nf4", "gptq-int4", "awq-int4", "gptq-int3", "hqq-int2"),
    "vllm": ("bf16", "fp8", "gptq-int8", "awq-int4", "gptq-int4", "bnb-nf4"),
    "ollama": ("q8_0", "q6_k", "q5_k_m", "q4_k_m", "q4_0", "q3_k_m", "q2_k"),
    "mlx": ("bf16", "mlx-8bit", "mlx-6bit", "mlx-5bit", "mlx-4bit", "mlx-3bit", "mlx-2bit"),
    None: (
        "bf16",
        "fp8",
        "bnb-int8",
        "q8_0",
        "q6_k",
        "q5_k_m",
        "q4_k_m",
        "bnb-nf4",
        "awq-int4",
        "q3_k_m",
        "q2_k",
    ),
}


@record
class DeviceFit:
    """One device's part of a plan: what the engine may use there and what the plan puts there."""

    name: str
    usable_bytes: int
    used_bytes: int

    @property
    def headroom_bytes(self) -> int:
        """Usable minus used (negative: short by that much)."""
        return self.usable_bytes - self.used_bytes


@record
class FitResult:
    """Whether an estimate fits a budget, by how much, and why.

    ``required_bytes`` is the GPU memory charged against the engine's allowance
    (:func:`~planner.fit.budget.charged_bytes`); ``headroom_bytes`` is ``usable_bytes -
    required_bytes`` (negative: short by that much). On several GPUs both sum the devices (parts
    every GPU repeats counted on each), and :attr:`tightest` is the device with the least
    headroom: one full GPU stops the run, so ``fits`` needs every device's headroom >= 0. ``blockers`` are reasons it cannot run whatever the memory (the GPU lacks
    support, vLLM's start-up check, a tensor-parallel size the model cannot take). ``split`` is the
    multi-GPU plan (:class:`~planner.fit.multi_gpu.SplitPlan`) when one was made.
    """

    fits: bool
    headroom_bytes: int
    required_bytes: int
    usable_bytes: int
    estimate: MemoryEstimate
    budget: Budget
    allowance: Allowance
    per_gpu: tuple[DeviceFit, ...]
    notes: tuple[str, ...] = ()
    blockers: tuple[str, ...] = ()
    split: SplitPlan | None = None

    @property
    def tightest(self) -> DeviceFit:
        """The device with the least headroom (on one GPU, that GPU)."""
        return min(self.per_gpu, key=lambda s: s.headroom_bytes)

    def headroom_text(self) -> str:
        """The verdict's numbers in words: over all devices, and the fullest one's when there are several.

        ``"3.20 GiB headroom (needs 20.80 GiB of 24.00 GiB usable)"`` or ``"short by 1.10 GiB (...)"``;
        on several GPUs ``"... over 2 GPUs (...); the fullest, GPU 1, is short by 1.50 GiB (...)"``.
        """

        def amount(headroom: int) -> str:
            return (
                f"{format_gib(headroom)} headroom" if headroom >= 0 else f"short by {format_gib(-headroom)}"
            )

        over = f" over {len(self.per_gpu)} GPUs" if len(self.per_gpu) > 1 else ""
        text = (
            f"{amount(self.headroom_bytes)}{over} "
            f"(needs {format_gib(self.required_bytes)} of {format_gib(self.usable_bytes)} usable)"
        )
        if len(self.per_gpu) > 1:
            t = self.tightest
            verb = "has" if t.headroom_bytes >= 0 else "is"
            text += (
                f"; the fullest, {t.name}, {verb} {amount(t.headroom_bytes)} "
                f"({format_gib(t.used_bytes)} of {format_gib(t.usable_bytes)})"
            )
        return text


@record
class Limit:
    """The largest context (or batch, or ``-ngl``) that fits, with the fits on both sides of the boundary.

    ``value`` is ``None`` when even the smallest value (1; 0 for ``-ngl``) does not fit. ``fit`` is
    the answer at ``value`` (at the smallest value when nothing fits); ``beyond`` the answer at
    ``value + 1``, which does not fit (``None`` when the search stopped at ``cap``: then ``capped``
    is True and more would fit in memory).
    """

    what: str
    value: int | None
    cap: int
    capped: bool
    fit: FitResult
    beyond: FitResult | None
    notes: tuple[str, ...] = ()


@record
class KvCapacity:
    """vLLM's KV pool on one GPU, as it logs it at start-up.

    ``available_bytes`` ("Available KV cache memory"), ``num_blocks`` (pages per layer),
    ``tokens`` ("GPU KV cache size: N tokens") and ``max_concurrency`` ("Maximum concurrency for
    ``context`` tokens per request: Kx"). ``page_bytes`` is one block of ``block_tokens`` tokens
    of one layer; ``layers_per_block`` the layers one block id spans (all cache layers, or the
    hybrid group size).
    """

    available_bytes: int
    page_bytes: int
    block_tokens: int
    layers_per_block: int
    num_blocks: int
    tokens: int
    context: int
    blocks_per_request: int
    max_concurrency: float
    rule: str
    fit: FitResult
    notes: tuple[str, ...] = ()

    @property
    def estimate(self) -> MemoryEstimate:
        """The estimate behind the figures."""
        return self.fit.estimate


class FormatOption(NamedTuple):
    """One candidate of :func:`best_format`: its id, the fit, and whether it is the pick."""

    format_id: str
    fit: FitResult
    pick: bool


# ---------------------------------------------------------------------------------------------
# fits
# ---------------------------------------------------------------------------------------------


def _unsupported(budget: Budget, fmt: QuantFormat, engine: str) -> tuple[list[str], list[str]]:
    """(blockers, notes) from the catalog GPUs' support flags (``data/gpus.json`` ``supports``)."""
    blockers: list[str] = []
    notes: list[str] = []
    for gpu in dict.fromkeys(d.catalog for d in budget.devices if d.catalog is not None):
        s = gpu.supports
        if engine == "vllm" and not s.vllm:
            blockers.append(f"vLLM does not run on the {gpu.name} (data/gpus.json supports.vllm)")
        if engine in ("llama.cpp", "ollama") and not s.llama_cpp:
            blockers.append(f"{engine} (llama.cpp) does not run on the {gpu.name}")
        if fmt.family == "bitsandbytes" and not s.bitsandbytes:
            blockers.append(
                f"bitsandbytes does not support the {gpu.name} (data/gpus.json supports.bitsandbytes)"
            )
        if fmt.id.startswith("fp8") and not s.fp8:
            notes.append(
                f"the {gpu.name} has no FP8 matrix units: FP8 weights need the engine's weight-only kernels there"
            )
    return blockers, notes


def fit_estimate(est: MemoryEstimate, budget: Budget) -> FitResult:
    """Judge an existing estimate against ``budget`` (single GPU, or split over several)."""
    allowance, blockers, notes = _FIT_FRAMES.get(
        (budget, est.format),
        (est.engine, *ALLOWANCE_SETTINGS(est.settings)),
        lambda: _fit_frame(budget, est.format, est.engine, est.settings),
    )
    required = charged_bytes(est)
    usable = allowance.total_usable_bytes
    if budget.count == 1 and not budget.unified:  # the common case: nothing here depends on the estimate
        headroom = usable - required
        return FitResult(
            fits=headroom >= 0 and not blockers,
            headroom_bytes=headroom,
            required_bytes=required,
            usable_bytes=usable,
            estimate=est,
            budget=budget,
            allowance=allowance,
            per_gpu=(DeviceFit(budget.devices[0].name, usable, required),),
            notes=notes,
            blockers=blockers,
            split=None,
        )
    shared_notes, shared_blockers = unified_check(est, budget)
    all_blockers = [*blockers, *shared_blockers]
    all_notes = [*notes, *shared_notes]
    split = None
    if budget.count == 1:
        shares = (DeviceFit(budget.devices[0].name, usable, required),)
    else:
        shares, split, split_notes, split_blockers = _multi_gpu(est, budget, allowance, required)
        all_notes.extend(split_notes)
        all_blockers.extend(split_blockers)
    required_sum = sum(s.used_bytes for s in shares)
    usable_sum = sum(s.usable_bytes for s in shares)
    return FitResult(
        fits=min(s.headroom_bytes for s in shares) >= 0 and not all_blockers,
        headroom_bytes=usable_sum - required_sum,
        required_bytes=required_sum,
        usable_bytes=usable_sum,
        estimate=est,
        budget=budget,
        allowance=allowance,
        per_gpu=shares,
        notes=tuple(dict.fromkeys(all_notes)),
        blockers=tuple(all_blockers),
        split=split,
    )


#: What a fit takes from the budget, the format and the engine alone (its allowance, blockers and notes).
_FIT_FRAMES = IdentityCache(2048)


def _fit_frame(
    budget: Budget, fmt: QuantFormat, engine: str, settings: RunSettings
) -> tuple[Allowance, tuple[str, ...], tuple[str, ...]]:
    allowance = budget.allowance(engine, settings)
    blockers, notes = _unsupported(budget, fmt, engine)
    return (
        allowance,
        (*allowance.blockers, *blockers),
        tuple(dict.fromkeys([allowance.rule, *allowance.notes, *budget.notes, *notes])),
    )


@record
class _Slot:
    """A device as the split planner reads it: a name and the bytes it may fill."""

    name: str
    capacity_bytes: int


def _multi_gpu(
    est: MemoryEstimate, budget: Budget, allowance: Allowance, required: int
) -> tuple[tuple[DeviceFit, ...], SplitPlan | None, list[str], list[str]]:
    """Per-device fits from the split planner (:mod:`planner.fit.multi_gpu`).

    vLLM shards tensors (``--tensor-parallel-size``); llama.cpp splits layers (``-sm layer``, its
    default with several GPUs), and so does transformers (``device_map="auto"`` fills GPUs layer
    by layer). The engine's margin becomes the planner's margin; vLLM's CUDA context, outside its
    pool, is added back to each device's room.
    """
    outside = est.total - charged_bytes(est)  # vLLM: CUDA context + graphs; SGLang: activations + overhead
    usable = allowance.usable_bytes
    margins = [d.capacity_bytes - u - outside for d, u in zip(budget.devices, usable, strict=True)]
    gpus: tuple[Device, ...] | list[_Slot] = budget.devices
    margin = margins[0]
    kwargs: dict[str, list[float]] = {}
    tensor = est.engine in TENSOR_PARALLEL_ENGINES
    if len(set(margins)) > 1:  # unequal margins: give each device its own room, split by capacity
        gpus = [_Slot(d.name, u + outside) for d, u in zip(budget.devices, usable, strict=True)]
        margin = 0
        if not tensor:
            kwargs["tensor_split"] = [float(d.capacity_bytes) for d in budget.devices]
    try:
        if tensor:
            plan = split_tensor_parallel(est, gpus, margin_bytes=margin)
        else:
            plan = split_layers(est, gpus, margin_bytes=margin, **kwargs)
    except SettingsError as exc:
        shares = _pooled(budget, usable, required)
        return shares, None, [], [str(exc)]
    shares = tuple(
        DeviceFit(share.name, u, _charged_share(est, share, outside))
        for share, u in zip(plan.shares, usable, strict=True)
    )
    return shares, plan, list(plan.notes), []


def _charged_share(est: MemoryEstimate, share: Any, outside: int) -> int:
    """One device's share charged as :func:`~planner.fit.budget.charged_bytes` charges the whole plan."""
    if est.engine == "trtllm":  # KV costs kv / free_gpu_memory_fraction of each device
        from planner.engines.trtllm.startup import FREE_FRACTION

        fraction = est.settings.free_gpu_memory_fraction or FREE_FRACTION
        return share.total + math.ceil(share.kv_cache / fraction) - share.kv_cache
    return share.total - outside


def _pooled(budget: Budget, usable: tuple[int, ...], required: int) -> tuple[DeviceFit, ...]:
    """The estimate spread in proportion to usable memory (shown when no split can be made)."""
    total = sum(usable) or 1
    used = [required * u // total for u in usable]
    used[-1] += required - sum(used)
    return tuple(DeviceFit(d.name, u, n) for d, u, n in zip(budget.devices, usable, used, strict=True))


def parsed(fmt: QuantFormat) -> QuantFormat:
    """``fmt`` itself; the fit layer takes formats parsed once at the edge (:func:`planner.formats.parse_format`)."""
    if not isinstance(fmt, QuantFormat):
        raise TypeError(
            f"the fit layer takes a parsed QuantFormat, not {type(fmt).__name__} {fmt!r:.40}; "
            "parse it once with planner.formats.parse_format"
        )
    return fmt


def _resolve(fmt: QuantFormat, engine: str | None) -> tuple[QuantFormat, str]:
    chosen = parsed(fmt)
    return chosen, (get_engine(engine).id if engine else default_engine(chosen).id)


def fits(
    spec: ModelSpec,
    fmt: QuantFormat,
    engine: str | None,
    settings: RunSettings | None,
    budget: Budget,
) -> FitResult:
    """Whether ``spec`` in ``fmt`` on ``engine`` (default: the format's) with ``settings`` fits ``budget``."""
    chosen, engine_id = _resolve(fmt, engine)
    return fit_estimate(engine_estimate(spec, chosen, engine_id, settings or RunSettings()), budget)


# ---------------------------------------------------------------------------------------------
# limits
# ---------------------------------------------------------------------------------------------


def largest_fitting(
    what: str, check: Callable[[int], FitResult], cap: int, notes: list[str], low: int = 1
) -> Limit:
    """Binary search for the largest n in [low, cap] with ``check(n).fits``.

    The invariant (``lo`` fits, ``hi`` does not) makes the answer an exact boundary even where
    memory steps (llama.cpp pads the context to 256 cells): ``value`` fits, ``value + 1`` does not.
    """
    first = check(low)
    if not first.fits:
        why = (
            "; ".join(first.blockers)
            or f"short by {format_gib(-first.tightest.headroom_bytes)} at {what} {low}"
        )
        return Limit(what, None, cap, False, first, None, (*notes, f"nothing fits: {why}"))
    top = check(cap)
    if top.fits:
        return Limit(what, cap, cap, True, top, None, tuple(notes))
    lo, lo_fit, hi, hi_fit = low, first, cap, top
    while hi - lo > 1:
        mid = (lo + hi) // 2
        result = check(mid)
        if result.fits:
            lo, lo_fit = mid, result
        else:
            hi, hi_fit = mid, result
    return Limit(what, lo, cap, False, lo_fit, hi_fit, tuple(notes))


def max_context(
    spec: ModelSpec,
    fmt: QuantFormat,
    engine: str | None,
    settings: RunSettings | None,
    budget: Budget,
) -> Limit:
    """The largest context (tokens per sequence) that fits at the settings' batch.

    Capped at the model's ``max_position_embeddings`` (``capped`` says when the cap, not memory, decided).
    """
    chosen, engine_id = _resolve(fmt, engine)
    base = settings or RunSettings()
    cap = min(spec.max_position_embeddings or MAX_CONTEXT, MAX_CONTEXT)
    notes = []
    if spec.max_position_embeddings:
        notes.append(f"searched up to the model's max_position_embeddings ({cap:,} tokens)")
    else:
        notes.append(f"the model states no max_position_embeddings; searched up to {cap:,} tokens")
    limit = largest_fitting(
        "context",
        lambda n: fit_estimate(engine_estimate(spec, chosen, engine_id, replace(base, context=n)), budget),
        cap,
        notes,
    )
    if limit.capped:
        return replace(limit, notes=(*limit.notes, f"capped at {cap:,} tokens: memory allows more"))
    return limit


def max_batch(
    spec: ModelSpec,
    fmt: QuantFormat,
    engine: str | None,
    settings: RunSettings | None,
    budget: Budget,
) -> Limit:
    """The largest batch (concurrent sequences) that fits at the settings' context.

    vLLM is capped at ``max_num_seqs`` (it never schedules more requests at once).
    """
    chosen, engine_id = _resolve(fmt, engine)
    base = settings or RunSettings()
    cap = MAX_BATCH
    notes = []
    if engine_id == "vllm":
        cap = base.max_num_seqs or int(default("vllm", "max_num_seqs"))
        notes.append(f"vLLM runs at most max_num_seqs = {cap} requests at once; searched up to that")
    limit = largest_fitting(
        "batch",
        lambda n: fit_estimate(engine_estimate(spec, chosen, engine_id, replace(base, batch=n)), budget),
        cap,
        notes,
    )
    if limit.capped:
        return replace(limit, notes=(*limit.notes, f"capped at {cap:,}: memory allows more"))
    return limit


# ---------------------------------------------------------------------------------------------
# vLLM KV capacity
# ---------------------------------------------------------------------------------------------


def vllm_kv_capacity(
    spec: ModelSpec, fmt: QuantFormat, settings: RunSettings | None, budget: Budget
) -> KvCapacity:
    """Tokens vLLM's KV pool holds on one GPU and the concurrency it logs for ``settings.context``.

    # NOTE: vllm/v1/core/kv_cache_utils.py. Uniform models: num_blocks = available // page_size
    # // num_layers (get_num_blocks; layers of one type with different page sizes: available //
    # sum of pages). Hybrid models: layers split into groups of group_size, one block id spans
    # group_size layers: num_blocks = available // page_size // group_size, and the logged size
    # is num_blocks // num_groups * block_size tokens. Maximum concurrency = num_blocks /
    # blocks one request of max_model_len needs (get_max_concurrency_for_kv_cache_config).
    """
    chosen, _ = _resolve(fmt, "vllm")
    base = settings or RunSettings()
    if budget.count != 1:
        raise FitError(
            "the vLLM KV capacity is computed for one GPU; tensor parallel shards KV heads per GPU"
        )
    est = engine_estimate(spec, chosen, "vllm", base)
    fit = fit_estimate(est, budget)
    usable = fit.allowance.usable_bytes[0]
    available = usable - (fit.required_bytes - est.kv_cache.bytes)
    block = int(default("vllm", "block_size"))
    mnbt = base.max_num_batched_tokens or int(default("vllm", "max_num_batched_tokens"))
    from planner.engines.vllm.kv import vllm_cache  # vLLM's package loads on first use (engines/registry.py)

    layers, _, layout = vllm_cache(
        spec, kv.cache_type(est.kv_dtype), kv.cache_type(model_dtype(chosen)), base.context, 1, mnbt, block
    )
    cached = [layer for layer in layers if layer.kind is not AttentionKind.NONE]
    notes = list(fit.notes)
    if not cached:
        return KvCapacity(
            max(available, 0), 0, layout.attn_block, 0, 0, 0, base.context, 0, float("inf"),
            "attention-free model: no KV pool", fit, tuple(notes),
        )  # fmt: skip

    def blocks(layer: kv.LayerCache) -> int:
        return layer.cells // layout.attn_block if layer.cells else 1

    pages = [(layer.k_bytes + layer.v_bytes + layer.state_bytes) // blocks(layer) for layer in cached]
    kinds: dict[AttentionKind, list[int]] = {}
    for layer in cached:
        kinds.setdefault(layer.kind, []).append(blocks(layer))
    room = max(available, 0)
    if len(kinds) == 1:
        per_block = sum(pages)
        num_blocks = room // per_block
        tokens = num_blocks * layout.attn_block
        per_request = max(blocks(layer) for layer in cached)
        span = len(cached)
        page = max(pages)
        rule = (
            f"({format_gib(usable)} usable - weights, activations and buffers) = {format_gib(available)} available "
            f"// ({len(cached)} layers x {page:,} B per {layout.attn_block}-token block) = {num_blocks:,} blocks "
            f"= {tokens:,} tokens"
        )
    else:
        span = layout.group_size
        page = max(pages)
        groups = {kind: kv.cdiv(len(b), span) for kind, b in kinds.items()}
        num_groups = sum(groups.values())
        num_blocks = room // page // span
        tokens = num_blocks // num_groups * layout.attn_block
        per_request = sum(groups[kind] * max(b) for kind, b in kinds.items())
        rule = (
            f"hybrid: {format_gib(available)} available // ({span} layers per group x {page:,} B page) = "
            f"{num_blocks:,} blocks shared by {num_groups} groups = {tokens:,} tokens"
        )
        if len(set(pages)) > 1:
            notes.append(
                "layer page sizes differ; vLLM raises block sizes to unify them, the largest page is used"
            )
    concurrency = num_blocks / per_request if per_request else float("inf")
    if available < est.kv_cache.bytes:
        notes.append(
            f"vLLM would refuse to start: one request of {base.context:,} tokens needs "
            f"{format_gib(est.kv_cache.bytes)} of KV cache, more than the {format_gib(max(available, 0))} available "
            "('To serve at least one request with the model's max seq len ...')"
        )
    return KvCapacity(
        available_bytes=available,
        page_bytes=page,
        block_tokens=layout.attn_block,
        layers_per_block=span,
        num_blocks=num_blocks,
        tokens=tokens,
        context=base.context,
        blocks_per_request=per_request,
        max_concurrency=concurrency,
        rule=rule,
        fit=fit,
        notes=tuple(dict.fromkeys(notes)),
    )


# ---------------------------------------------------------------------------------------------
# best format
# ---------------------------------------------------------------------------------------------


def representative_formats(engine: str | None = None) -> tuple[str, ...]:
    """The default candidates of :func:`best_format` for ``engine`` (``None``: each format's own engine)."""
    key = get_engine(engine).id if engine else None
    return REPRESENTATIVE_FORMATS.get(key, REPRESENTATIVE_FORMATS[None])


def best_format(
    spec: ModelSpec,
    engine: str | None,
    settings: RunSettings | None,
    budget: Budget,
    candidates: Iterable[str] | None = None,
) -> list[FormatOption]:
    """Every candidate format's fit, most bits per weight first; the first that fits is the pick.

    ``candidates`` are format ids (default :func:`representative_formats`), each parsed once here.
    Candidates ``engine`` does not load, or that the format or engine refuses for this model, are
    left out. Bits are the model's actual average (quantization state and 16-bit tensors included).
    """
    options: list[tuple[float, str, FitResult]] = []
    for candidate in candidates if candidates is not None else representative_formats(engine):
        fmt = parse_format(candidate)
        if engine and not get_engine(engine).loads(fmt):
            continue
        try:
            result = fits(spec, fmt, engine, settings, budget)
        except PlannerError:
            continue
        options.append((result.estimate.weights_report.bits_per_weight, fmt.id, result))
    options.sort(key=lambda o: (-o[0], o[1]))
    picked = False
    out = []
    for _, fid, result in options:
        pick = result.fits and not picked
        picked = picked or pick
        out.append(FormatOption(fid, result, pick))
    return out


__all__ = [
    "REPRESENTATIVE_FORMATS",
    "TENSOR_PARALLEL_ENGINES",
    "DeviceFit",
    "FitResult",
    "FormatOption",
    "KvCapacity",
    "Limit",
    "best_format",
    "fit_estimate",
    "fits",
    "largest_fitting",
    "max_batch",
    "max_context",
    "representative_formats",
    "vllm_kv_capacity",
]
