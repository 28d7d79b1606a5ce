"""How fast a memory estimate runs on a GPU: a roofline estimate of decode tokens/s and prefill seconds.

Decode is limited by memory traffic: every step reads the weights one token touches (for MoE the
shared tensors plus the routed experts the batch selects) and the KV cache at the current
context, once for all sequences of the batch. A step takes

    max(bytes / (bandwidth x fraction), FLOPs / (tensor throughput x MFU)) + layers x step latency

on the GPU, plus host-resident layers (llama.cpp partial offload) read at host bandwidth. Prefill
is FLOPs-bound: ``2 x active parameters x prompt`` plus causal attention over tensor throughput x
MFU. Tensor parallelism adds bandwidth and FLOPs (x ``tensor_parallel_fraction``); a layer split
runs the GPUs one after another, so one stream gets no speed-up.

These are estimates: the fractions and latencies are empirical (``data/speed.json``, each with a
source and a band), checked against published llama-bench runs in ``tests/planner/fit/test_speed.py``
(``docs/speed.md`` has the table).
"""

from __future__ import annotations

import json
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from planner.engines.constants import Constant
from planner.engines.shape import model_shape
from planner.errors import PlannerError
from planner.fit.budget import MAX_GPUS
from planner.formats.base import QuantFormat, WeightsReport
from planner.frozen import record
from planner.hardware.gpus import Gpu
from planner.memo import IdentityCache, per_object
from planner.memory.estimate import MemoryEstimate, SettingsError
from planner.model.spec import AttentionKind, ModelSpec, Role

SPEED_FILE = Path(__file__).resolve().parents[2] / "data" / "speed.json"
MODES = ("tensor", "layer")
#: Tensors a token reads one row of (a lookup), not the whole matrix.
LOOKUP_ROLES = frozenset({Role.EMBEDDING, Role.POSITION_EMBEDDING})
#: Tensors text decoding never runs (the vision tower runs once per image, in prefill).
IDLE_ROLES = frozenset({Role.VISION, Role.PROJECTOR})
#: Engine id -> the key of its step latency in ``data/speed.json``.
LATENCY_KEYS = {
    "llama.cpp": "llamacpp_step_latency_us_per_layer",
    "vllm": "vllm_step_latency_us_per_layer",
    "transformers": "transformers_step_latency_us_per_layer",
}


# ---------------------------------------------------------------------------------------------
# constants
# ---------------------------------------------------------------------------------------------


@cache
def _data() -> dict[str, Any]:
    data = json.loads(SPEED_FILE.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("constants"), dict):
        raise PlannerError(f"{SPEED_FILE.name}: must hold a 'constants' object")
    for name, entry in data["constants"].items():
        for key in ("value", "low", "high"):
            if not isinstance(entry.get(key), int | float):
                raise PlannerError(f"{SPEED_FILE.name}: constant '{name}' needs a numeric '{key}'")
        if not 0 < entry["low"] <= entry["value"] <= entry["high"]:
            raise PlannerError(f"{SPEED_FILE.name}: constant '{name}' must satisfy 0 < low <= value <= high")
        for key in ("source", "note"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise PlannerError(f"{SPEED_FILE.name}: constant '{name}' needs a '{key}'")
        if "calibrate" not in entry["note"]:
            raise PlannerError(f"{SPEED_FILE.name}: constant '{name}' needs a calibration note")
    return data


def speed_constant(name: str) -> Constant:
    """The empirical speed constant ``name`` from ``data/speed.json``."""
    entry = _data()["constants"].get(name)
    if entry is None:
        raise PlannerError(f"{SPEED_FILE.name}: no constant '{name}'")
    return Constant(name, entry["value"], entry["low"], entry["high"], entry["source"], entry["note"])


def speed_constant_names() -> list[str]:
    """Every speed constant's name."""
    return list(_data()["constants"])


# ---------------------------------------------------------------------------------------------
# what one decode step reads and computes
# ---------------------------------------------------------------------------------------------


@record
class WeightReads:
    """Weight bytes one decode step reads, by where they live and whether they are block-quantized.

    ``*_quantized`` bytes dequantize on the fly (GGUF blocks, GPTQ/AWQ, NF4, FP8 with scales) and
    stream at a lower fraction of peak bandwidth than plain 16/32-bit bytes.
    """

    gpu_plain: int
    gpu_quantized: int
    host_plain: int
    host_quantized: int

    @property
    def gpu(self) -> int:
        """Bytes read from GPU memory."""
        return self.gpu_plain + self.gpu_quantized

    @property
    def host(self) -> int:
        """Bytes read from host memory (layers llama.cpp keeps on the CPU)."""
        return self.host_plain + self.host_quantized

    @property
    def total(self) -> int:
        """All weight bytes one step reads."""
        return self.gpu + self.host


def touched_bytes(group_bytes: int, active_fraction: tuple[int, int], batch: int = 1) -> int:
    """Bytes of a tensor group one decode step of ``batch`` tokens reads.

    Routed experts: one token reads ``top_k / n_experts`` of them; ``batch`` tokens routed
    independently and uniformly touch ``1 - (1 - top_k / n_experts) ** batch`` of them.
    """
    num, den = active_fraction
    if num >= den:
        return group_bytes
    if batch == 1:
        return group_bytes * num // den
    return round(group_bytes * (1 - (1 - num / den) ** batch))


@per_object(objects=2)
def _per_token_groups(report: WeightsReport, spec: ModelSpec) -> tuple:
    """``(storage, is_layer)`` of every tensor group a decode step reads, and the tied head if any.

    Lookups (token/position embeddings) and idle towers are skipped; a tied model's head is
    the embedding matrix, read whole by the logits matmul. (Remembered per report and model.)
    """
    has_head = any(t.group.role is Role.LM_HEAD for t in report.tensors)
    out = []
    for t in report.tensors:
        role = t.group.role
        if role in IDLE_ROLES:
            continue
        if role in LOOKUP_ROLES:
            if role is Role.EMBEDDING and not has_head and spec.tied_embeddings:
                out.append((t, False))
            continue
        out.append((t, bool(t.group.layers)))
    return tuple(out)


@per_object()
def _layer_bytes(report: WeightsReport) -> int:
    """Bytes of the repeating layers' tensors."""
    return sum(t.bytes for t in report.tensors if t.group.layers)


def weight_reads(est: MemoryEstimate, batch: int | None = None) -> WeightReads:
    """Weight bytes one decode step of ``batch`` tokens (default: the estimate's batch) reads, GPU and host.

    # NOTE: placement comes from the estimate. llama.cpp keeps a tail of layers on the GPU; the
    # host share of repeating-layer bytes is est.host_weights.parts["layers"] over all layer
    # bytes (exact when layers are alike, approximate for models whose first layers differ,
    # e.g. DeepSeek's dense layers). The output layer is on the host only when the estimate says so.
    """
    batch = est.settings.batch if batch is None else batch
    host = est.host_weights.parts
    return _weight_reads(est.weights_report, est.model, batch, host.get("layers", 0), "output_layer" in host)


@per_object(objects=2)
def _weight_reads(
    report: WeightsReport, spec: ModelSpec, batch: int, host_layers: int, head_on_host: bool
) -> WeightReads:
    """:func:`weight_reads` for one placement (remembered: it does not depend on the context)."""
    if not host_layers:
        return _on_gpu_reads(report, spec, batch, head_on_host)
    layer_bytes = _layer_bytes(report)
    gpu = {False: 0, True: 0}
    host = {False: 0, True: 0}
    for t, is_layer in _per_token_groups(report, spec):
        read = touched_bytes(t.bytes, t.group.active_fraction, batch)
        if is_layer:
            on_host = read * host_layers // layer_bytes if layer_bytes else 0
        else:
            on_host = read if head_on_host else 0
        gpu[t.quantized] += read - on_host
        host[t.quantized] += on_host
    return WeightReads(gpu[False], gpu[True], host[False], host[True])


def _on_gpu_reads(report: WeightsReport, spec: ModelSpec, batch: int, head_on_host: bool) -> WeightReads:
    """:func:`_weight_reads` with every layer on the GPU: groups read whole are summed once per report,
    routed experts per ``batch`` (the same integer sums, in another order)."""
    whole, experts = _read_groups(report, spec)
    gpu = {False: whole[(False, True)], True: whole[(True, True)]}
    host = {False: 0, True: 0}
    heads = host if head_on_host else gpu
    heads[False] += whole[(False, False)]
    heads[True] += whole[(True, False)]
    for nbytes, fraction, quantized, is_layer in experts:
        read = touched_bytes(nbytes, fraction, batch)
        (gpu if is_layer or not head_on_host else host)[quantized] += read
    return WeightReads(gpu[False], gpu[True], host[False], host[True])


@per_object(objects=2)
def _read_groups(report: WeightsReport, spec: ModelSpec) -> tuple[dict[tuple[bool, bool], int], tuple]:
    """Bytes of the groups a decode step reads whole, by (quantized, in a layer), and the routed-expert
    groups ``(bytes, active fraction, quantized, in a layer)`` whose share depends on the batch."""
    whole = {(q, layer): 0 for q in (False, True) for layer in (False, True)}
    experts = []
    for t, is_layer in _per_token_groups(report, spec):
        num, den = t.group.active_fraction
        if num >= den:
            whole[(t.quantized, is_layer)] += t.bytes
        else:
            experts.append((t.bytes, t.group.active_fraction, t.quantized, is_layer))
    return whole, tuple(experts)


@per_object(objects=2)
def _matmul_parameters(report: WeightsReport, spec: ModelSpec) -> tuple[int, int]:
    """``(layer, head)`` parameters one token multiplies with (routed experts at top_k)."""
    layer = head = 0
    for t, is_layer in _per_token_groups(report, spec):
        if is_layer:
            layer += t.group.active_parameters
        else:
            head += t.group.active_parameters
    return layer, head


_READ_KEYS = ((False, True), (True, True), (False, False), (True, False))


def report_terms(report: WeightsReport, spec: ModelSpec) -> tuple:
    """The speed model's terms of one report as plain numbers (for :mod:`planner.catalog_cache`): the bytes
    read whole per (quantized, in a layer), the routed-expert groups, and the matmul parameters."""
    whole, experts = _read_groups(report, spec)
    return tuple(whole[k] for k in _READ_KEYS), experts, _matmul_parameters(report, spec)


def remember_report_terms(report: WeightsReport, spec: ModelSpec, terms: tuple) -> None:
    """Hold :func:`report_terms`' numbers (read back from disk) as this report's terms."""
    whole, experts, (layer, head) = terms
    if len(whole) != len(_READ_KEYS):
        raise ValueError("not the speed model's terms")
    groups = tuple((int(b), (int(f[0]), int(f[1])), bool(q), bool(in_layer)) for b, f, q, in_layer in experts)
    _read_groups.cache.put((report, spec), (), (dict(zip(_READ_KEYS, whole, strict=True)), groups))  # type: ignore[attr-defined]
    _matmul_parameters.cache.put((report, spec), (), (int(layer), int(head)))  # type: ignore[attr-defined]


@per_object()
def _attention_terms(spec: ModelSpec) -> tuple[tuple[int, int | None], ...]:
    """Per attention window (``None``: full): ``(FLOPs per (query, key) pair over its layers, window)``.

    Scores and weighted values cost ``2 x heads x (k_head_dim + v_head_dim)`` per pair; an MLA
    layer attends in its latent space (absorbed weights): ``2 x heads x 2 x latent``.
    """
    heads = model_shape(spec).query_heads
    terms: dict[int | None, int] = {}
    for layer in spec.layers:
        if layer.attention in (AttentionKind.FULL, AttentionKind.SLIDING):
            window = layer.window if layer.attention is AttentionKind.SLIDING else None
            terms[window] = terms.get(window, 0) + 2 * heads * (layer.k_head_dim + layer.v_head_dim)
        elif layer.attention is AttentionKind.MLA:
            terms[None] = terms.get(None, 0) + 2 * heads * 2 * layer.latent_dim
    # Layers of one window share the pair count, so their per-pair FLOPs add up first (exact integers).
    return tuple((per_pair, window) for window, per_pair in terms.items())


def decode_flops_per_token(est: MemoryEstimate, context: int | None = None) -> int:
    """FLOPs of one generated token at ``context`` (default: the estimate's context)."""
    context = est.settings.context if context is None else context
    layer, head = _matmul_parameters(est.weights_report, est.model)
    attention = sum(
        per_pair * min(context, window or context) for per_pair, window in _attention_terms(est.model)
    )
    return 2 * (layer + head) + attention


def _causal_pairs(tokens: int, window: int | None) -> int:
    """(query, key) pairs of a causal prompt of ``tokens``: sum of min(i, window) for i = 1..tokens."""
    if window is None or tokens <= window:
        return tokens * (tokens + 1) // 2
    return window * (window + 1) // 2 + (tokens - window) * window


def prefill_flops(est: MemoryEstimate, prompt_tokens: int) -> int:
    """FLOPs of one prompt: every token through every layer, logits for the last token only."""
    layer, head = _matmul_parameters(est.weights_report, est.model)
    attention = sum(
        per_pair * _causal_pairs(prompt_tokens, window) for per_pair, window in _attention_terms(est.model)
    )
    return 2 * layer * prompt_tokens + 2 * head + attention


def _tensor_throughput(fmt: QuantFormat, gpu: Gpu) -> tuple[int | None, str]:
    """Dense tensor ops/s the format computes with, and its label.

    W8A8 formats (``fp8*``, ``int8``) run their matmuls in 8 bit where the GPU has the units;
    weight-only formats (GGUF, GPTQ/AWQ, NF4, EXL) dequantize and multiply in 16 bit.
    """
    fid = fmt.id.lower()
    if fid.startswith("fp8") and gpu.fp8_tensor_flops:
        return gpu.fp8_tensor_flops, "FP8"
    if fid == "int8" and gpu.int8_tensor_ops:
        return gpu.int8_tensor_ops, "INT8"
    return gpu.fp16_tensor_flops, "FP16"


# ---------------------------------------------------------------------------------------------
# the estimate
# ---------------------------------------------------------------------------------------------


@record
class SpeedEstimate:
    """Estimated decode and prefill speed of one configuration (an estimate, with its band).

    ``decode_tokens_per_s`` counts every sequence of the batch (one sequence gets
    ``per_sequence_tokens_per_s``). ``bytes_per_step`` is what one decode step reads (weights
    once, KV of every sequence); ``bytes_per_token`` is that over the batch. ``prefill_seconds``
    is one prompt of ``prompt_tokens``; ``None`` when the GPU has no published tensor throughput
    (Apple GPUs). ``bound`` says what limits decode.
    """

    decode_tokens_per_s: float
    decode_tokens_per_s_low: float
    decode_tokens_per_s_high: float
    prefill_seconds: float | None
    prefill_seconds_low: float | None
    prefill_seconds_high: float | None
    prompt_tokens: int
    batch: int
    context: int
    bytes_per_step: int
    host_bytes_per_step: int
    bytes_per_token: int
    flops_per_token: int
    bound: str
    mode: str
    gpus: int
    gpu_name: str
    assumptions: tuple[str, ...]

    @property
    def per_sequence_tokens_per_s(self) -> float:
        """Tokens/s one sequence of the batch sees."""
        return self.decode_tokens_per_s / self.batch

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output (an estimate, labelled as such)."""
        return {
            "estimate": True,
            "gpu": self.gpu_name,
            "gpus": self.gpus,
            "mode": self.mode,
            "batch": self.batch,
            "context": self.context,
            "decode_tokens_per_s": round(self.decode_tokens_per_s, 2),
            "decode_tokens_per_s_low": round(self.decode_tokens_per_s_low, 2),
            "decode_tokens_per_s_high": round(self.decode_tokens_per_s_high, 2),
            "per_sequence_tokens_per_s": round(self.per_sequence_tokens_per_s, 2),
            "prompt_tokens": self.prompt_tokens,
            "prefill_seconds": None if self.prefill_seconds is None else round(self.prefill_seconds, 4),
            "prefill_seconds_low": None
            if self.prefill_seconds_low is None
            else round(self.prefill_seconds_low, 4),
            "prefill_seconds_high": None
            if self.prefill_seconds_high is None
            else round(self.prefill_seconds_high, 4),
            "bytes_per_step": self.bytes_per_step,
            "host_bytes_per_step": self.host_bytes_per_step,
            "bytes_per_token": self.bytes_per_token,
            "flops_per_token": self.flops_per_token,
            "bound": self.bound,
            "assumptions": list(self.assumptions),
        }


@record
class _Rates:
    """One corner of the band: every empirical constant at its value, low or high end."""

    plain: float
    quantized: float
    host_fraction: float
    host_bandwidth: float
    latency_s: float
    mfu: float
    tp: float


@lru_cache(maxsize=256)
def _rates(engine: str, host_bandwidth: int | None, which: int) -> _Rates:
    """``which`` 0: point, 1: slow corner, 2: fast corner (data/speed.json is read once per process)."""

    def pick(c: Constant, fast_is_high: bool = True) -> float:
        if which == 0:
            return c.value
        slow = c.low if fast_is_high else c.high
        fast = c.high if fast_is_high else c.low
        return slow if which == 1 else fast

    latency = speed_constant(LATENCY_KEYS.get(engine, LATENCY_KEYS["llama.cpp"]))
    host_bw = speed_constant("host_memory_bandwidth_bytes_per_s")
    return _Rates(
        plain=pick(speed_constant("decode_bandwidth_fraction_plain")),
        quantized=pick(speed_constant("decode_bandwidth_fraction_quantized")),
        host_fraction=pick(speed_constant("host_bandwidth_fraction")),
        host_bandwidth=float(host_bandwidth) if host_bandwidth is not None else pick(host_bw),
        latency_s=pick(latency, fast_is_high=False) * 1e-6,
        mfu=pick(speed_constant("matmul_flops_fraction")),
        tp=pick(speed_constant("tensor_parallel_fraction")),
    )


def estimate_speed(
    est: MemoryEstimate,
    gpu: Gpu,
    gpus: int = 1,
    *,
    host_bandwidth_bytes_per_s: int | None = None,
    mode: str = "tensor",
    prompt_tokens: int | None = None,
) -> SpeedEstimate:
    """Decode tokens/s and prefill seconds of ``est`` on ``gpus`` x ``gpu`` (a roofline estimate).

    ``mode`` is how several GPUs share the model: ``"tensor"`` (tensor parallel: bandwidth and
    FLOPs add) or ``"layer"`` (llama.cpp ``-sm layer`` / pipeline: the GPUs run one after another).
    ``prompt_tokens`` defaults to the estimate's context.
    """
    if mode not in MODES:
        raise SettingsError(f"unknown multi-GPU mode '{mode:.20}'; valid: {', '.join(MODES)}")
    if not 1 <= gpus <= MAX_GPUS:
        raise SettingsError(f"gpus must be between 1 and {MAX_GPUS}, not {gpus}")
    if host_bandwidth_bytes_per_s is not None and host_bandwidth_bytes_per_s <= 0:
        raise SettingsError("host bandwidth must be positive")
    batch, context = est.settings.batch, est.settings.context
    prompt = context if prompt_tokens is None else prompt_tokens
    if prompt < 1:
        raise SettingsError("prompt_tokens must be 1 or more")
    host = est.host_weights.parts
    host_layers, head_on_host = host.get("layers", 0), "output_layer" in host
    f = _SPEED_FRAMES.get(
        (est.weights_report, est.model, est.format, gpu),
        (
            est.engine,
            gpus,
            mode,
            host_bandwidth_bytes_per_s,
            batch,
            host_layers,
            head_on_host,
            bool(est.host_kv_cache.bytes),
        ),
        lambda: _speed_frame(est, gpu, gpus, mode, host_bandwidth_bytes_per_s),
    )
    reads = f.reads
    kv_gpu, kv_host = est.kv_cache.bytes, est.host_kv_cache.bytes
    flops_token = f.matmul_flops + f.full_pair_flops * context
    for per_pair, window in f.windowed:
        flops_token += per_pair * min(context, window or context)
    gpu_plain, gpu_quantized, host_reads = (
        reads.gpu_plain + kv_gpu,
        reads.gpu_quantized,
        f.host_reads + kv_host,
    )
    steps = []
    for scale, d_plain, d_quantized, d_compute, d_host, latency in f.corners:
        memory = (gpu_plain / d_plain + gpu_quantized / d_quantized) / scale
        compute = batch * flops_token / d_compute if d_compute else 0.0
        steps.append((max(memory, compute) + host_reads / d_host + latency, compute > memory))
    (step, compute_bound), (step_slow, _), (step_fast, _) = steps

    prefill_seconds: list[float | None] = [None, None, None]
    if f.peak:
        pre = (
            reads
            if f.batch_free
            else _weight_reads(est.weights_report, est.model, prompt, host_layers, head_on_host)
        )
        prompt_flops = (
            f.layer_parameters * 2 * prompt + f.head_flops + f.full_pair_flops * _causal_pairs(prompt, None)
        )
        for per_pair, window in f.windowed:
            prompt_flops += per_pair * _causal_pairs(prompt, window)
        pre_plain, pre_quantized, pre_host = pre.gpu_plain, pre.gpu_quantized, pre.host
        for i, (scale, d_plain, d_quantized, d_compute, d_host, latency) in enumerate(f.corners):
            compute = prompt_flops / d_compute
            memory = (pre_plain / d_plain + pre_quantized / d_quantized) / scale
            prefill_seconds[i] = max(compute, memory) + pre_host / d_host + latency

    step_bytes = f.total_reads + kv_gpu + kv_host
    return SpeedEstimate(
        decode_tokens_per_s=batch / step,
        decode_tokens_per_s_low=batch / step_slow,
        decode_tokens_per_s_high=batch / step_fast,
        prefill_seconds=prefill_seconds[0],
        prefill_seconds_low=prefill_seconds[2],
        prefill_seconds_high=prefill_seconds[1],
        prompt_tokens=prompt,
        batch=batch,
        context=context,
        bytes_per_step=step_bytes,
        host_bytes_per_step=host_reads,
        bytes_per_token=step_bytes // batch,
        flops_per_token=flops_token,
        bound="compute" if compute_bound else "memory",
        mode=mode,
        gpus=gpus,
        gpu_name=gpu.name,
        assumptions=(*f.assumptions_head, _context_line(context), *f.assumptions_tail),
    )


class _SpeedFrame(NamedTuple):
    """What a speed estimate takes from the weights, their placement, the GPUs and the engine (not the context).

    ``corners`` are the point, slow and fast rates as the divisors the roofline uses:
    ``(parallel scale, plain bytes/s, quantized bytes/s, FLOP/s or 0, host bytes/s, per-step latency)``.
    """

    reads: WeightReads
    host_reads: int  # reads.host
    total_reads: int  # reads.total
    batch_free: bool  # no routed experts: a prompt of any length reads the same bytes as one decode step
    peak: int | None
    corners: tuple[tuple[float, float, float, float, float, float], ...]
    matmul_flops: int  # 2 x (layer + head) parameters: one token's matmuls
    layer_parameters: int
    head_flops: int  # 2 x head parameters: the last prompt token's logits
    full_pair_flops: int  # FLOPs per (query, key) pair over the layers attending to every token
    windowed: tuple[
        tuple[int, int], ...
    ]  # (FLOPs per pair, window) of the sliding layers, as _attention_terms
    assumptions_head: tuple[str, ...]
    assumptions_tail: tuple[str, ...]


_SPEED_FRAMES = IdentityCache(4096)


def _speed_frame(
    est: MemoryEstimate, gpu: Gpu, gpus: int, mode: str, host_bandwidth_bytes_per_s: int | None
) -> _SpeedFrame:
    reads = weight_reads(est, est.settings.batch)
    peak, peak_label = _tensor_throughput(est.format, gpu)
    bandwidth = gpu.memory_bandwidth_bytes_per_s
    layers = est.model.num_layers
    parallel = gpus if mode == "tensor" else 1
    corners = []
    rates = [_rates(est.engine, host_bandwidth_bytes_per_s, i) for i in range(3)]
    for r in rates:
        scale = parallel * (r.tp if parallel > 1 else 1.0)
        corners.append(
            (
                scale,
                bandwidth * r.plain,
                bandwidth * r.quantized,
                peak * r.mfu * scale if peak else 0.0,
                r.host_bandwidth * r.host_fraction,
                layers * r.latency_s,
            )
        )
    layer, head = _matmul_parameters(est.weights_report, est.model)
    lines = _assumptions(est, gpu, gpus, mode, rates[0], peak_label, peak, reads, host_bandwidth_bytes_per_s)
    at = lines.index(_context_line(est.settings.context))  # the one line a new context changes
    attention = _attention_terms(est.model)
    return _SpeedFrame(
        reads,
        reads.host,
        reads.total,
        not _read_groups(est.weights_report, est.model)[1],
        peak,
        tuple(corners),
        2 * (layer + head),
        layer,
        2 * head,
        sum(per_pair for per_pair, window in attention if window is None),
        tuple((per_pair, window) for per_pair, window in attention if window is not None),
        lines[:at],
        lines[at + 1 :],
    )


@lru_cache(maxsize=64)
def _context_line(context: int) -> str:
    return (
        "decode reads the weights once per step for the whole batch and the KV cache of every sequence "
        f"at {context:,} tokens; token embeddings are a lookup, vision towers idle"
    )


def _assumptions(
    est: MemoryEstimate,
    gpu: Gpu,
    gpus: int,
    mode: str,
    r: _Rates,
    peak_label: str,
    peak: int | None,
    reads: WeightReads,
    host_bandwidth: int | None,
) -> tuple[str, ...]:
    """What the estimate took for granted, in words."""
    out = [
        "estimate: roofline of bytes over memory bandwidth and FLOPs over tensor throughput, "
        "with empirical fractions from data/speed.json (band from their low/high ends)",
        f"{gpu.name}: {gpu.memory_bandwidth_bytes_per_s / 1e9:g} GB/s peak; plain bytes stream at "
        f"{r.plain:.0%}, block-quantized bytes at {r.quantized:.0%} of it; "
        f"{r.latency_s * 1e6:g} us per layer per step for {est.engine}",
        _context_line(est.settings.context),
    ]
    if est.model.is_moe:
        out.append(
            f"MoE: routed experts read at top_k/n_experts = {est.model.n_experts_per_token}/{est.model.n_experts} "
            "per token; a batch touches 1 - (1 - k/E)^batch of them (uniform routing)"
        )
    if reads.host or est.host_kv_cache.bytes:
        where = (
            f"{host_bandwidth / 1e9:g} GB/s (given)"
            if host_bandwidth
            else (f"{r.host_bandwidth / 1e9:g} GB/s (default: dual-channel DDR5-5600)")
        )
        out.append(
            f"host-resident layers are read by the CPU at {where} x {r.host_fraction:.0%}; their time adds to the GPU's"
        )
    if peak:
        out.append(
            f"matmuls at {r.mfu:.0%} of the dense {peak_label} tensor figure ({peak / 1e12:g} TFLOPS); "
            "prefill computes logits for the last prompt token only"
        )
    else:
        out.append(
            f"{gpu.name} has no published tensor throughput: prefill not estimated, decode assumed memory-bound"
        )
    if gpus > 1 and mode == "tensor":
        out.append(
            f"tensor parallel over {gpus} GPUs: bandwidth and FLOPs x {gpus} x {r.tp:.0%} (all-reduce cost); "
            "replicated KV heads (kv_heads < GPUs) are not counted twice"
        )
    elif gpus > 1:
        out.append(f"layer split over {gpus} GPUs: they run one after another, no speed-up for one stream")
    return tuple(out)
