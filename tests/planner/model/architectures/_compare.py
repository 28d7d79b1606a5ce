"""Shared helpers of the architecture tests: the planner's tensors set side by side with transformers'.

Every architecture test checks :func:`planner.model.model_from_config` against
transformers' own modeling code (:func:`verify.meta_count.transformers_parameters`
on the meta device, or a real forward pass for the cache). The planner records one
tensor group per name with ``*`` for the layer index; transformers names each layer,
and fuses routed experts into 3-D tensors. These helpers bring both to the same names.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from planner.catalog import MODELS_DIR
from planner.model import AttentionKind, model_from_config
from planner.model.spec import ROUTED_EXPERT_ROLES, ModelSpec, TensorGroup
from verify.meta_count import transformers_parameters


def numel(shape: Iterable[int]) -> int:
    """Elements of a tensor of ``shape`` (1 for a scalar)."""
    return math.prod(shape)


def catalog_entry(model_id: str, folder: Path = MODELS_DIR) -> dict[str, Any]:
    """The catalog entry (``config``, ``reference``...) of ``org/name``, stored as ``org--name.json``."""
    return json.loads((folder / f"{model_id.replace('/', '--')}.json").read_text())


def catalog_config(model_id: str) -> dict[str, Any]:
    """The ``config.json`` of a shipped catalog model."""
    return catalog_entry(model_id)["config"]


def _layer_names(t: TensorGroup, renames: Mapping[str, str]) -> list[str]:
    """``t``'s name for each layer it stands for (the first ``*`` is the layer index)."""
    names = []
    for layer in t.layers or (None,):
        name = t.name if layer is None else t.name.replace("*", str(layer), 1)
        for old, new in renames.items():
            name = name.replace(old, new)
        names.append(name)
    return names


def shapes_by_name(tensors: Iterable[TensorGroup], renames: Mapping[str, str] | None = None) -> dict:
    """Planner tensors per concrete layer, name -> shape, as transformers lists them.

    ``renames`` maps checkpoint spellings to transformers' (substring replacements).
    """
    return {name: t.shape for t in tensors for name in _layer_names(t, renames or {})}


def parameters_by_name(spec: ModelSpec, renames: Mapping[str, str] | None = None) -> dict[str, int]:
    """Planner parameters per concrete layer; names that ``renames`` merges (experts) are summed."""
    out: dict[str, int] = {}
    for t in spec.tensors:
        for name in _layer_names(t, renames or {}):
            out[name] = out.get(name, 0) + t.parameters // max(len(t.layers), 1)
    return out


def reference_parameters(
    shapes: Mapping[str, tuple[int, ...]], *, skip_empty: bool = False
) -> dict[str, int]:
    """transformers' shapes as parameter counts; ``skip_empty`` drops zero-element tensors."""
    counts = {name: numel(shape) for name, shape in shapes.items()}
    return {name: n for name, n in counts.items() if n} if skip_empty else counts


def assert_matches_transformers(
    config: dict[str, Any], renames: Mapping[str, str] | None = None
) -> ModelSpec:
    """Every dense tensor one by one, routed experts in total (transformers fuses them 3-D)."""
    spec = model_from_config(config)
    dense = [t for t in spec.tensors if t.role not in ROUTED_EXPERT_ROLES]
    experts = sum(t.parameters for t in spec.tensors if t.role in ROUTED_EXPERT_ROLES)
    reference = transformers_parameters(config)
    assert shapes_by_name(dense, renames) == {k: v for k, v in reference.items() if ".experts." not in k}
    assert experts == sum(numel(v) for k, v in reference.items() if ".experts." in k)
    return spec


def transformers_cache_layers(config: dict[str, Any], tokens: int = 5) -> list[Any]:
    """The per-layer cache transformers fills in a real forward pass over ``tokens`` random tokens."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    raw = dict(config)
    hf_config = AutoConfig.for_model(raw.pop("model_type"), **raw)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(hf_config).eval()
    with torch.no_grad():
        out = model(input_ids=torch.randint(0, hf_config.vocab_size, (1, tokens)), use_cache=True)
    cache = getattr(out, "past_key_values", None) or out.cache_params
    return cache.layers


def state_elements(cached: Any) -> int:
    """Elements of one cache layer's recurrent state: conv window plus SSM state."""
    states = [*getattr(cached, "conv_states", {}).values(), *getattr(cached, "recurrent_states", {}).values()]
    return sum(s.numel() for s in states if s is not None)


def transformers_state_elements(config: dict[str, Any]) -> list[int]:
    """Recurrent-state elements of each layer of transformers' cache."""
    return [state_elements(cached) for cached in transformers_cache_layers(config)]


def assert_cache_matches_transformers(config: dict[str, Any], tokens: int = 5) -> None:
    """Linear layers: state elements; attention layers: K and V elements for ``tokens`` tokens."""
    spec = model_from_config(config)
    for layer, cached in zip(spec.layers, transformers_cache_layers(config, tokens), strict=True):
        if layer.attention is AttentionKind.LINEAR:
            assert layer.state_elements == state_elements(cached)
        else:
            assert layer.kv_elements_per_token * tokens == cached.keys.numel() + cached.values.numel()


def transformers_default(model_type: str, **overrides: Any) -> dict[str, Any]:
    """transformers' own default config for ``model_type`` (its ``to_dict()``), with ``overrides``."""
    from transformers import AutoConfig

    return AutoConfig.for_model(model_type, **overrides).to_dict()


#: transformers' cache layer types -> what the planner's layer must be.
_EXPECTED_KIND = {
    "full_attention": AttentionKind.FULL,
    "sliding_attention": AttentionKind.SLIDING,
    "chunked_attention": AttentionKind.SLIDING,
    "linear_attention": AttentionKind.LINEAR,
    "conv": AttentionKind.LINEAR,
    "hybrid": AttentionKind.FULL,
    "indexed_attention": AttentionKind.MLA,
    "moe": AttentionKind.NONE,
    "mlp": AttentionKind.NONE,
}


def assert_layer_kinds_match(config: dict[str, Any]) -> ModelSpec:
    """Each planner layer has the kind transformers' own config gives it (``layer_types``, KV sharing)."""
    from verify.hf import hf_config, text_config

    spec = model_from_config(config)
    hf = text_config(hf_config(config))
    types = getattr(hf, "layer_types", None) or getattr(hf, "layers_block_type", None)
    types = list(types or ["full_attention"] * hf.num_hidden_layers)
    sharing = getattr(hf, "kv_sharing_modes", None) or [None] * len(types)
    # NOTE: a "full_attention" layer of an MLA model (Kimi Linear) caches the latent: MLA here.
    kinds = [
        AttentionKind.FULL
        if layer.attention is AttentionKind.MLA and t != "indexed_attention"
        else layer.attention
        for layer, t in zip(spec.layers, types, strict=True)
    ]
    expected = [
        AttentionKind.NONE if mode == "reuse" else _EXPECTED_KIND[t]
        for t, mode in zip(types, sharing, strict=True)
    ]
    assert kinds == expected
    assert [layer.chunked for layer in spec.layers] == [t == "chunked_attention" for t in types]
    return spec
