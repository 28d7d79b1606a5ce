"""One verifier run: build the model, measure it, and set the planner's prediction beside it.

Protocol (CUDA), in one fresh process:

1. NVML device ``used`` before CUDA starts (the baseline);
2. CUDA init plus a warm-up matmul; NVML again: the CUDA context (and cuBLAS);
3. build and quantize: ``memory_allocated`` growth is the weights;
4. ``generate`` from ``context - decode`` prompt tokens to ``decode`` new ones at ``batch``:
   ``max_memory_allocated`` is the peak, then reserved, NVML's total and decode tokens/s;
5. a prefill of all ``context`` tokens: the bytes its ``DynamicCache`` holds are the KV cache.

CPU mode runs the same steps on the CPU and keeps what is exact there: the bytes of every
weight tensor (bitsandbytes and HQQ quantize on the CPU) and of the cache after a real
prefill. A CUDA out-of-memory error at any step is a result ("does not fit"), with the
memory at the failure; a format this device cannot run is a clear skip.
"""

from __future__ import annotations

import contextlib
import gc
import os
import statistics
import time
import traceback
from dataclasses import asdict, dataclass, replace
from typing import Any

from planner.engines import estimate
from planner.formats import parse_format
from planner.memory.estimate import RunSettings
from verify.backends import Backend, UnsupportedFormat, backend_for, skip_reason
from verify.build import BuiltModel, build_checkpoint, build_random
from verify.config import RunConfig
from verify.hf import text_config
from verify.probe import CudaProbe, HostProbe, probe_for
from verify.record import Record, predicted_dict
from verify.source import ModelSource, build_config, planner_spec, resolve
from verify.tensors import buffer_tensors, cache_bytes, storage_bytes, weight_tensors


@dataclass(slots=True)
class Measurement:
    """What a run measured so far (``None``: not measured). Filled step by step, so an OOM keeps the rest."""

    weights: int | None = None
    weights_tensor_bytes: int | None = None
    buffers: int | None = None
    kv_cache: int | None = None
    kv_cache_storage: int | None = None
    kv_cache_allocated: int | None = None
    peak_allocated: int | None = None
    prefill_peak_allocated: int | None = None
    reserved: int | None = None
    max_reserved: int | None = None
    cuda_context: int | None = None
    nvml_baseline: int | None = None
    process_total: int | None = None
    process_nvml: int | None = None
    allocated_at_failure: int | None = None
    reserved_at_failure: int | None = None
    nvml_at_failure: int | None = None
    decode_tokens_per_s: float | None = None
    decode_step_s: list[float] | None = None
    generated_tokens: int | None = None
    build_s: float | None = None
    generate_s: float | None = None
    prefill_s: float | None = None

    @property
    def overhead(self) -> int | None:
        """What the process holds beyond torch's peak allocation: context, kernels, allocator slack."""
        if self.process_total is None or self.peak_allocated is None:
            return None
        return self.process_total - self.peak_allocated

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["overhead"] = self.overhead
        for key in ("build_s", "generate_s", "prefill_s", "decode_tokens_per_s"):
            if out[key] is not None:
                out[key] = round(out[key], 4)
        if out["decode_step_s"] is not None:
            out["decode_step_s"] = [round(t, 6) for t in out["decode_step_s"]]
        return out


def is_oom(exc: BaseException) -> bool:
    """CUDA out of memory, as torch raises it or as a library reports it."""
    import torch

    if isinstance(exc, torch.OutOfMemoryError):
        return True
    text = str(exc).lower()
    return "out of memory" in text or "cublas_status_alloc_failed" in text


class _StepClock:
    """A logits processor that only notes when each generation step's logits are ready."""

    def __init__(self, sync: Any) -> None:
        self.sync = sync
        self.times: list[float] = []

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        self.sync()
        self.times.append(time.perf_counter())
        return scores


def _prompt(model: Any, batch: int, tokens: int, device: str, seed: int) -> Any:
    import torch

    vocab = text_config(model.config).vocab_size
    gen = torch.Generator(device="cpu").manual_seed(seed)
    return torch.randint(0, vocab, (batch, tokens), generator=gen).to(device)


def _generate(model: Any, config: RunConfig, probe: Any, m: Measurement, device: str) -> None:
    """Step 4: the peak over a prefill plus ``decode`` generated tokens, and decode speed."""
    import torch
    from transformers import LogitsProcessorList

    ids = _prompt(model, config.batch, config.prompt_tokens, device, config.seed)
    clock = _StepClock(probe.sync)
    probe.reset_peak()
    start = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=config.decode,
            min_new_tokens=config.decode,
            do_sample=False,
            pad_token_id=0,
            eos_token_id=None,
            logits_processor=LogitsProcessorList([clock]),
        )
    probe.sync()
    m.generate_s = time.perf_counter() - start
    m.peak_allocated = probe.peak()
    m.reserved = probe.reserved()
    m.max_reserved = probe.max_reserved()
    nvml = probe.nvml_used()
    if nvml is not None and m.nvml_baseline is not None:
        m.process_total = nvml - m.nvml_baseline
    m.process_nvml = probe.process_used()
    m.generated_tokens = int(out.shape[-1] - ids.shape[-1])
    # NOTE: the first decode step loads the M=1 kernels (CUDA lazy module loading) and can take
    # seconds; the median step is the steady decode speed. Every step's time stays in the record.
    steps = [b - a for a, b in zip(clock.times, clock.times[1:], strict=False)]
    if steps and statistics.median(steps) > 0:
        m.decode_step_s = steps
        m.decode_tokens_per_s = config.batch / statistics.median(steps)
    del out, ids


def _prefill(model: Any, config: RunConfig, probe: Any, m: Measurement, device: str) -> None:
    """Step 5: a prefill of all ``context`` tokens; the cache's own bytes are the KV cache."""
    import torch

    ids = _prompt(model, config.batch, config.context, device, config.seed + 1)
    before = probe.allocated()
    probe.reset_peak()
    start = time.perf_counter()
    with torch.inference_mode():
        try:
            out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
        except TypeError:  # a model class without logits_to_keep
            out = model(input_ids=ids, use_cache=True)
    probe.sync()
    m.prefill_s = time.perf_counter() - start
    m.prefill_peak_allocated = probe.peak()
    if config.decode == 0:  # no generate step: the prefill is the run
        m.peak_allocated, m.reserved, m.max_reserved = (
            m.prefill_peak_allocated,
            probe.reserved(),
            probe.max_reserved(),
        )
        nvml = probe.nvml_used()
        if nvml is not None and m.nvml_baseline is not None:
            m.process_total = nvml - m.nvml_baseline
    cache = getattr(out, "past_key_values", None)
    if cache is None:
        cache = getattr(out, "cache_params", None)
    counted = cache_bytes(cache)
    m.kv_cache, m.kv_cache_storage = counted.logical, counted.storage
    del out
    after = probe.allocated()
    if before is not None and after is not None:
        m.kv_cache_allocated = after - before
    del cache, ids


def _free(probe: Any) -> None:
    gc.collect()
    if probe.device == "cuda":
        import torch

        torch.cuda.empty_cache()


def _model_info(built: BuiltModel | None, source: ModelSource, spec_params: int | None) -> dict[str, Any]:
    info: dict[str, Any] = {"source": source.kind, "ref": source.ref}
    if built is not None:
        info.update(
            {
                "weights": built.source,
                "parameters_transformers": built.parameters,
                "parameters_planner": spec_params,
                "quantized_modules": len(built.quantized),
                "kept_linear": list(built.kept_linear),
                "kept_rule": built.backend.kept,
                "build_s": round(built.seconds, 4),
            }
        )
    return info


def predict(config: RunConfig, source: ModelSource) -> tuple[dict[str, Any], int]:
    """The planner's figures for ``config`` (and the parameter count of its model)."""
    spec = planner_spec(source, config.tiny)
    settings = RunSettings(
        context=config.context, batch=config.batch, kv_dtype_k=config.kv_dtype, kv_dtype_v=config.kv_dtype
    )
    est = estimate(spec, parse_format(config.format), config.engine, settings)
    return predicted_dict(est), spec.total_parameters


def measure(
    config: RunConfig, source: ModelSource, backend: Backend, probe: HostProbe | CudaProbe
) -> tuple[str, str | None, Measurement, BuiltModel | None, list[str]]:
    """Steps 1-5 on ``probe``'s device: (status, reason, measurement, built model, notes)."""
    m = Measurement()
    notes: list[str] = []
    device = probe.torch_device
    built = None
    step = "cuda init"
    try:
        m.nvml_baseline = probe.nvml_used()
        probe.start()
        after_init = probe.nvml_used()
        if m.nvml_baseline is not None and after_init is not None:
            m.cuda_context = after_init - m.nvml_baseline
        step = "build"
        before = probe.allocated()
        if config.weights == "checkpoint":
            built = build_checkpoint(source.ref if source.folder is None else source.folder, backend, device)
        else:
            built = build_random(build_config(source, config.tiny), backend, device, config.seed)
        probe.sync()
        m.build_s = built.seconds
        after = probe.allocated()
        m.weights_tensor_bytes = storage_bytes(weight_tensors(built.model))
        m.buffers = storage_bytes(buffer_tensors(built.model))
        m.weights = after - before if after is not None and before is not None else m.weights_tensor_bytes
        if probe.device == "cpu" and not backend.cpu_prefill:
            notes.append(
                f"{backend.format_id} layers run forward only on CUDA: CPU mode measures weights only"
            )
            return "ok", None, m, built, notes
        for step, fn in (("generate", _generate), ("prefill", _prefill)):
            if step == "generate" and config.decode == 0:
                continue
            try:
                fn(built.model, config, probe, m, device)
            except Exception as exc:
                if probe.device == "cpu" and not is_oom(exc):
                    # NOTE: bitsandbytes' kernels reject some shapes here: MatMul8bitLt flattens
                    # only 3-D inputs and DeepSeek's kv_b_proj gets a 4-D latent; the weights are
                    # still exact, so the CPU check keeps them and says what failed.
                    notes.append(f"{step} failed on the CPU ({type(exc).__name__}: {str(exc)[:200]})")
                    continue
                raise
            _free(probe)
        return "ok", None, m, built, notes
    except Exception as exc:
        if probe.device == "cuda" and is_oom(exc):
            with contextlib.suppress(Exception):
                m.allocated_at_failure = probe.allocated()
                m.reserved_at_failure = probe.reserved()
                m.peak_allocated = m.peak_allocated or probe.peak()
                m.nvml_at_failure = probe.nvml_used()
            first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            return "oom", f"CUDA out of memory during {step}: {first}", m, built, notes
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:500]
        return "error", f"{step} failed: {detail}", m, built, notes


def run(config: RunConfig, nvml: Any = None) -> Record:
    """Build, measure and compare one configuration (in this process)."""
    try:
        source = resolve(config.model)
        predicted, spec_params = predict(config, source)
    except Exception as exc:
        return Record(config.to_dict(), "error", reason=f"{type(exc).__name__}: {str(exc)[:500]}")
    try:
        backend = backend_for(config.format)
    except UnsupportedFormat as exc:
        return Record(config.to_dict(), "skipped", predicted=predicted, reason=str(exc))
    probe = probe_for(config.device, nvml)
    if config.device == "cuda":
        # NOTE: ask NVML, not the CUDA runtime, so the baseline is read before any CUDA call.
        os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
        import torch

        if not torch.cuda.is_available():
            return Record(
                config.to_dict(), "skipped", predicted=predicted, reason="CUDA is not available here"
            )
    reason = skip_reason(backend, config.device, probe.capability() if config.device == "cuda" else None)
    model = {"source": source.kind, "ref": source.ref, "kept_rule": backend.kept}
    if reason:
        return Record(config.to_dict(), "skipped", predicted=predicted, model=model, reason=reason)
    if config.weights == "checkpoint" and not source.has_weights:
        reason = f"{config.model} has no weights here (a config only): use weights=random"
        return Record(config.to_dict(), "skipped", predicted=predicted, model=model, reason=reason)
    status, reason, m, built, notes = measure(config, source, backend, probe)
    from verify.environment import environment

    return Record(
        config.to_dict(),
        status,
        predicted=predicted,
        measured=m.to_dict(),
        environment=environment(probe),
        model=_model_info(built, source, spec_params),
        reason=reason,
        notes=tuple(notes),
    )


#: The tiny CPU run of a dry run: short enough for CI, long enough to pass a sliding window.
DRY_RUN_CONTEXT, DRY_RUN_BATCH, DRY_RUN_DECODE = 24, 2, 3


def tiny_version(config: RunConfig) -> RunConfig:
    """``config`` shrunk for a CPU check: the tiny model, a short context, CPU."""
    context = min(config.context, DRY_RUN_CONTEXT)
    decode = min(config.decode, DRY_RUN_DECODE, context - 1)
    return replace(
        config,
        device="cpu",
        tiny=True,
        weights="random",
        context=context,
        batch=min(config.batch, DRY_RUN_BATCH),
        decode=decode,
    )


def _meta_check(
    config: RunConfig, source: ModelSource, backend: Backend, planner_params: int
) -> dict[str, Any]:
    """The full-size model on the meta device: transformers' classes and quantizer, no memory."""
    if config.weights == "checkpoint":
        return {"status": "skipped", "reason": "checkpoint runs load real weights; nothing to build on meta"}
    missing = skip_reason(backend, "meta")
    if missing:
        return {"status": "skipped", "reason": missing}
    try:
        built = build_random(build_config(source, config.tiny), backend, "meta")
    except Exception as exc:
        return {"status": "error", "reason": f"{type(exc).__name__}: {str(exc)[:300]}"}
    return {
        "status": "ok",
        "parameters_transformers": built.parameters,
        "parameters_planner": planner_params,
        "quantized_modules": len(built.quantized),
        "kept_linear": list(built.kept_linear),
        "seconds": round(built.seconds, 4),
    }


def dry_run(config: RunConfig) -> Record:
    """Everything but CUDA: the planner's prediction, the full-size model built on ``meta`` with
    transformers' quantizer, and a tiny look-alike built, quantized and run on the CPU."""
    try:
        source = resolve(config.model)
        predicted, planner_params = predict(config, source)
        backend = backend_for(config.format)
    except Exception as exc:
        return Record(config.to_dict(), "error", reason=f"{type(exc).__name__}: {str(exc)[:500]}")
    meta = _meta_check(config, source, backend, planner_params)
    if config.weights == "checkpoint":
        tiny = {"status": "skipped", "reason": "checkpoint runs have no tiny version"}
    else:
        tiny = run(tiny_version(config)).to_dict()
        tiny.pop("environment", None)
    failed = [name for name, part in (("meta", meta), ("tiny", tiny)) if part["status"] == "error"]
    return Record(
        config.to_dict(),
        "error" if failed else "dry-run",
        predicted=predicted,
        model={"source": source.kind, "ref": source.ref, "kept_rule": backend.kept},
        reason=f"dry run failed: {', '.join(failed)}" if failed else None,
        dry_run={"meta": meta, "tiny": tiny},
    )


__all__ = ["Measurement", "dry_run", "is_oom", "measure", "predict", "run", "tiny_version"]
