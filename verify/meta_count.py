"""Count a model's parameters with transformers' own modeling code, on the meta device.

Tensors on ``meta`` have shapes but no storage, so even a 671B model builds in
seconds and no memory. This is the independent check of the planner's tensor
accounting (tests compare the two model by model).
"""

from __future__ import annotations

from typing import Any

# NOTE: Wrappers whose language model lives in text_config load through the
# image-text class; everything else is a causal LM.
_IMAGE_TEXT_TYPES = {"gemma3", "mistral3", "llava", "qwen2_5_vl", "qwen2_vl", "llama4"}


def transformers_parameters(config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Map every parameter and persistent buffer to its shape, tied parameters once."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForImageTextToText

    raw = dict(config)
    model_type = raw.pop("model_type")
    # NOTE: special token ids never change a shape, but transformers refuses a
    # pad_token_id beyond a tiny test vocabulary; drop them.
    for key in ("pad_token_id", "bos_token_id", "eos_token_id"):
        raw[key] = None
    hf_config = AutoConfig.for_model(model_type, **raw)
    auto = AutoModelForImageTextToText if model_type in _IMAGE_TEXT_TYPES else AutoModelForCausalLM
    with torch.device("meta"):
        model = auto.from_config(hf_config, trust_remote_code=False)
    shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    # NOTE: persistent buffers are saved in the checkpoint and loaded with the weights
    # (DeepSeek-V3's router e_score_correction_bias); non-persistent ones (rotary
    # inv_freq, causal masks) are rebuilt at load time and are not model tensors.
    for module_name, module in model.named_modules():
        for name, buf in module._buffers.items():
            if buf is not None and name not in module._non_persistent_buffers_set:
                shapes[f"{module_name}.{name}" if module_name else name] = tuple(buf.shape)
    return shapes


def transformers_parameter_count(config: dict[str, Any]) -> int:
    """Total parameters transformers allocates for ``config`` (tied weights once)."""
    total = 0
    for shape in transformers_parameters(config).values():
        n = 1
        for d in shape:
            n *= d
        total += n
    return total
