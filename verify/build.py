"""Build a model with transformers' own classes and quantizers, one module at a time.

Random weights (no download): the model is built on the ``meta`` device (shapes, no
storage), transformers' quantizer swaps the modules exactly as ``from_pretrained``
does (``preprocess_model``), then each module's tensors are drawn on the target device
and, where the quantizer says so, quantized by its own conversion op before the next
module is touched. An 8B model is ready in seconds and the peak stays near the final
footprint plus one tensor. A checkpoint folder (or a Hub id) loads with
``from_pretrained``. ``trust_remote_code`` is never set.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from verify.backends import Backend, quantization_config
from verify.hf import auto_class, hf_config

#: Module classes transformers' FP8 and HQQ paths put in place of nn.Linear (bitsandbytes: by module).
_QUANTIZED_MODULES = frozenset({"FP8Linear", "FP8Experts", "FP8GroupedLinear", "HQQLinear"})


class BuildError(RuntimeError):
    """The model could not be built as asked (a tensor left on meta, a load that failed)."""


@dataclass(frozen=True, slots=True)
class BuiltModel:
    """A model ready to run, and what its quantizer did to it."""

    model: Any
    backend: Backend
    source: str  # "random" or "checkpoint"
    parameters: int  # unquantized parameter count transformers built (tied once), persistent buffers included
    quantized: tuple[str, ...]  # modules the quantizer replaced
    kept_linear: tuple[str, ...]  # nn.Linear modules it left in the model dtype
    seconds: float


@contextlib.contextmanager
def _default_dtype(dtype: Any) -> Iterator[None]:
    """``from_pretrained`` builds (and swaps) modules under the load dtype: placeholders match it."""
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def _count(model: Any) -> int:
    """Parameters and persistent buffers, tied tensors once (what ``meta_count`` counts)."""
    seen, total = set(), 0
    for name, module in model.named_modules():
        del name
        tensors = list(module._parameters.values())
        tensors += [b for n, b in module._buffers.items() if n not in module._non_persistent_buffers_set]
        for t in tensors:
            if t is not None and id(t) not in seen:
                seen.add(id(t))
                total += t.numel()
    return total


def skeleton(raw: dict[str, Any], backend: Backend, device: str = "cpu") -> tuple[Any, Any, int]:
    """The model on ``meta`` after the quantizer's module swap, its quantizer and its parameter count."""
    import torch

    dtype = getattr(torch, backend.dtype)
    config = hf_config(raw)
    cls = auto_class(raw["model_type"])
    qconfig = quantization_config(backend)
    with torch.device("meta"), _default_dtype(dtype):
        model = cls.from_config(config, dtype=dtype, trust_remote_code=False)
        parameters = _count(model)
        quantizer = None
        if qconfig is not None:
            from transformers.quantizers import AutoHfQuantizer

            quantizer = AutoHfQuantizer.from_config(qconfig, pre_quantized=False)
            quantizer.preprocess_model(
                model=model, dtype=dtype, device_map={"": device}, checkpoint_files=None, use_kernels=False
            )
    return model, quantizer, parameters


def _module_summary(model: Any, backend: Backend) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Modules the quantizer replaced (or tagged) and the ``nn.Linear`` it left alone."""
    import torch

    quantized, kept = [], []
    for name, module in model.named_modules():
        kind = type(module)
        hit = kind.__module__.startswith("bitsandbytes") or kind.__name__ in _QUANTIZED_MODULES
        # NOTE: HQQ tags nn.Linear with a quant_config before the swap (meta builds stop there).
        hit = hit or (backend.method == "hqq" and getattr(module, "quant_config", None) is not None)
        if hit:
            quantized.append(name)
        elif type(module) is torch.nn.Linear:
            kept.append(name)
    return tuple(quantized), tuple(kept)


def _random(shape: Any, dtype: Any, device: Any, generator: Any, name: str) -> Any:
    """Random values for one tensor: N(0, 0.02) matrices, ones for vectors (norms stay sane)."""
    import torch

    out = torch.empty(shape, dtype=dtype, device=device)
    if not (dtype.is_floating_point and dtype.itemsize >= 2):
        return out.zero_()
    if out.dim() < 2 or "norm" in name:
        return out.fill_(1.0)
    return out.normal_(0.0, 0.02, generator=generator)


def _place(model: Any, full_name: str, value: Any) -> None:
    """Put ``value`` in place of ``full_name`` (as transformers' ``set_param_for_module`` does)."""
    import torch

    module_path, _, leaf = full_name.rpartition(".")
    module = model.get_submodule(module_path) if module_path else model
    if leaf in module._buffers:
        module._buffers[leaf] = value
    else:
        if not isinstance(value, torch.nn.Parameter):
            value = torch.nn.Parameter(value, requires_grad=False)
        setattr(module, leaf, value)
    value._is_hf_initialized = True


def _hqq_swap(model: Any, name: str, module: Any, dtype: Any, device: str) -> None:
    """Replace a tagged ``nn.Linear`` by ``HQQLinear`` (what transformers 4.x's HQQ quantizer did).

    # NOTE: transformers 5.x's HqqHfQuantizer tags the modules but has no quantize op
    # (get_quantize_ops raises NotImplementedError), so on-the-fly HQQ through
    # from_pretrained fails; the verifier does the 4.x swap itself on the tagged modules.
    """
    import torch
    from hqq.core.quantize import HQQLinear

    layer = HQQLinear(
        module, quant_config=module.quant_config, compute_dtype=dtype, device=device, del_orig=True
    )
    if isinstance(layer.bias, torch.Tensor) and not isinstance(layer.bias, torch.nn.Parameter):
        layer.bias = torch.nn.Parameter(layer.bias, requires_grad=False)  # as transformers 4.x did
    parent_path, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    parent._modules[child] = layer


def materialize(model: Any, quantizer: Any, backend: Backend, device: str, seed: int) -> None:
    """Draw every tensor of ``model`` on ``device`` module by module, quantizing as transformers does."""
    import torch

    dtype = getattr(torch, backend.dtype)
    generator = torch.Generator(device=device).manual_seed(seed)
    tied = set(getattr(model, "all_tied_weights_keys", {}) or {})
    op = None
    if quantizer is not None and backend.method != "hqq":
        op = quantizer.get_quantize_ops()
    for name, module in list(model.named_modules()):
        owned = [(n, p, False) for n, p in module._parameters.items() if p is not None]
        owned += [
            (n, b, True)
            for n, b in module._buffers.items()
            if b is not None and n not in module._non_persistent_buffers_set
        ]
        for leaf, _, is_buffer in owned:
            full = f"{name}.{leaf}" if name else leaf
            # NOTE: read the slot again: a quantize op may already have filled it (FP8's
            # weight_scale_inv comes out of the weight's conversion).
            tensor = (module._buffers if is_buffer else module._parameters).get(leaf)
            if full in tied or tensor is None or tensor.device.type != "meta":
                continue
            quantize = quantizer is not None and quantizer.param_needs_quantization(model, full)
            if quantize and op is not None:
                value = _random(tensor.shape, dtype, device, generator, full)
                converted = op.convert(
                    {full: [value]},
                    source_patterns=[full],
                    target_patterns=[full],
                    full_layer_name=full,
                    model=model,
                    config=model.config,
                    missing_keys=set(),
                )
                for key, out in converted.items():
                    _place(model, key, out[0] if isinstance(out, list) else out)
                del value, converted
            else:
                # NOTE: HQQ-tagged linears are drawn in the model dtype, then swapped below.
                target = dtype if quantize else tensor.dtype
                _place(model, full, _random(tensor.shape, target, device, generator, full))
        if backend.method == "hqq" and getattr(module, "quant_config", None) is not None:
            _hqq_swap(model, name, module, dtype, device)
        if not module._non_persistent_buffers_set:
            module._is_hf_initialized = True
    _finish(model, device)


def _finish(model: Any, device: str) -> None:
    """Non-persistent buffers (rotary frequencies, embedding scales) as ``from_pretrained`` makes them."""
    import torch

    for name, module in model.named_modules():
        for leaf in module._non_persistent_buffers_set:
            buf = module._buffers.get(leaf)
            if buf is not None and buf.device.type == "meta":
                module._buffers[leaf] = torch.empty_like(buf, device=device)
        del name
    # NOTE: transformers' _init_weights recomputes rotary inv_freq and Gemma's embed_scale;
    # every tensor drawn above carries _is_hf_initialized, so it is left as it is.
    model.initialize_weights()
    model.tie_weights()
    left = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.device.type == "meta"]
    if left:
        raise BuildError(f"{len(left)} tensor(s) left on the meta device, e.g. {', '.join(left[:3])}")


def build_random(raw: dict[str, Any], backend: Backend, device: str, seed: int = 0) -> BuiltModel:
    """``raw``'s model with random weights on ``device`` (``meta``: the skeleton only)."""
    start = time.perf_counter()
    model, quantizer, parameters = skeleton(raw, backend, "cpu" if device == "meta" else device)
    if device != "meta":
        materialize(model, quantizer, backend, device, seed)
        if quantizer is not None:
            with contextlib.suppress(Exception):  # only flags and config bookkeeping
                quantizer.postprocess_model(model)
        model.eval()
    quantized, kept = _module_summary(model, backend)
    return BuiltModel(model, backend, "random", parameters, quantized, kept, time.perf_counter() - start)


def build_checkpoint(ref: str, backend: Backend, device: str) -> BuiltModel:
    """``from_pretrained`` of a local folder or Hub id, quantized on load like a user would."""
    import torch

    start = time.perf_counter()
    raw_cfg = hf_config_from_ref(ref)
    cls = auto_class(raw_cfg.model_type)
    kwargs: dict[str, Any] = {"dtype": getattr(torch, backend.dtype)}
    if device != "cpu":  # NOTE: a device_map needs accelerate; the CPU is from_pretrained's default
        kwargs["device_map"] = device
    qconfig = quantization_config(backend)
    if qconfig is not None:
        kwargs["quantization_config"] = qconfig
    try:
        model = cls.from_pretrained(ref, trust_remote_code=False, **kwargs)
    except NotImplementedError as exc:
        raise BuildError(f"transformers cannot quantize {backend.format_id} on load: {exc}") from None
    model.eval()
    parameters = sum(p.numel() for p in model.parameters())
    quantized, kept = _module_summary(model, backend)
    return BuiltModel(model, backend, "checkpoint", parameters, quantized, kept, time.perf_counter() - start)


def hf_config_from_ref(ref: str) -> Any:
    """transformers' config for a folder or Hub id (never remote code)."""
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(ref, trust_remote_code=False)


__all__ = ["BuildError", "BuiltModel", "build_checkpoint", "build_random", "materialize", "skeleton"]
