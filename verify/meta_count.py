"""Count a model's parameters with transformers' own modeling code, on the meta device.

Tensors on ``meta`` have shapes but no storage, so even a 671B model builds in
seconds and no memory. This is the independent check of the planner's tensor
accounting (tests compare the two model by model), and the planner's own tensor
inventory where torch is installed (:mod:`planner.model.inventory.meta`).
"""

from __future__ import annotations

from typing import Any

from verify.hf import auto_class, hf_config, known_model_type
from verify.lean_import import lean_modeling_import


def meta_model(
    config: dict[str, Any], model_class: Any = None, *, kind: str | None = None, keep_token_ids: bool = False
) -> Any:
    """``config``'s model built by transformers on the meta device (never with remote code).

    ``model_class`` (an Auto class) or ``kind`` (``"causal"``, ``"image_text"``) picks the class;
    by default the one :func:`verify.hf.auto_class` chooses for the model type.
    """
    import torch

    # NOTE: wrappers whose language model lives in text_config load through the image-text
    # class; special token ids (which transformers checks against a tiny vocabulary) are
    # dropped: see verify.hf.
    lean_modeling_import()
    config_obj = hf_config(config, keep_token_ids=keep_token_ids)
    model_type = known_model_type(config["model_type"], config.get("architectures"))
    auto = model_class or auto_class(model_type, kind)
    with torch.device("meta"):
        return auto.from_config(config_obj, trust_remote_code=False)


def model_tensors(model: Any) -> dict[str, Any]:
    """Every parameter and persistent buffer by name, tied parameters once."""
    tensors = dict(model.named_parameters())
    # NOTE: persistent buffers are saved in the checkpoint and loaded with the weights
    # (DeepSeek-V3's router e_score_correction_bias); non-persistent ones (rotary
    # inv_freq, causal masks) are rebuilt at load time and are not model tensors.
    for module_name, module in model.named_modules():
        for name, buf in module._buffers.items():
            if buf is not None and name not in module._non_persistent_buffers_set:
                tensors[f"{module_name}.{name}" if module_name else name] = buf
    return tensors


def transformers_parameters(
    config: dict[str, Any], kind: str | None = None, *, keep_token_ids: bool = False
) -> dict[str, tuple[int, ...]]:
    """Map every parameter and persistent buffer to its shape, tied parameters once."""
    model = meta_model(config, kind=kind, keep_token_ids=keep_token_ids)
    return {name: tuple(t.shape) for name, t in model_tensors(model).items()}


def transformers_parameter_count(
    config: dict[str, Any], kind: str | None = None, *, keep_token_ids: bool = False
) -> int:
    """Total parameters transformers allocates for ``config`` (tied weights once)."""
    total = 0
    for shape in transformers_parameters(config, kind, keep_token_ids=keep_token_ids).values():
        n = 1
        for d in shape:
            n *= d
        total += n
    return total
