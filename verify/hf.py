"""transformers' side of a config: the config object, the model class, and tiny look-alikes.

A catalog or uploaded ``config.json`` becomes a transformers config here (never with
remote code), and :func:`tiny_config` shrinks one to a few layers of small width that
keep every architectural feature the planner models (GQA/MLA, sliding layers, experts,
a vision tower), so the CPU checks and the GPU script's dry run build the same classes.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

#: Wrappers whose language model lives in ``text_config`` load through the image-text class.
IMAGE_TEXT_TYPES = frozenset(
    {"gemma3", "mistral3", "llava", "qwen2_5_vl", "qwen2_vl", "llama4", "qwen3_5", "qwen3_5_moe"}
)
#: Keys that never change a shape but that transformers checks against the vocabulary.
TOKEN_KEYS = ("pad_token_id", "bos_token_id", "eos_token_id")
#: Keys that would let a config pull in code: dropped, never followed.
REMOTE_CODE_KEYS = ("auto_map",)

# NOTE: tiny widths keep GQA and MLA's rope/nope split and make every linear layer a whole
# number of 128 x 128 FP8 blocks (transformers leaves other shapes unquantized) with inputs of
# 64 or more (bitsandbytes' CPU 4-bit matmul reshapes absmax to [out, in // 64]).
_TINY_TEXT = {
    "hidden_size": 256,
    "intermediate_size": 512,
    "moe_intermediate_size": 128,
    "shared_expert_intermediate_size": 128,
    "num_attention_heads": 4,
    "head_dim": 64,
    "vocab_size": 512,
    "kv_lora_rank": 128,
    "qk_rope_head_dim": 128,
    "qk_nope_head_dim": 64,
    "v_head_dim": 64,
    "query_pre_attn_scalar": 64,
    "sliding_window": 8,
    "num_local_experts": 4,
    "num_experts": 4,
    "n_routed_experts": 4,
    "num_experts_per_tok": 2,
    "n_group": 1,
    "topk_group": 1,
}
_TINY_VISION = {
    "hidden_size": 128,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "image_size": 56,
    "patch_size": 14,
}


def clean_config(raw: Mapping[str, Any], *, keep_token_ids: bool = False) -> dict[str, Any]:
    """A deep copy without token ids (shape-neutral) and without remote-code pointers.

    ``keep_token_ids`` keeps them (transformers' own default configs, whose ids fit their
    vocabulary and which some config classes require to be integers).
    """
    out = copy.deepcopy(dict(raw))
    for key in REMOTE_CODE_KEYS:
        out.pop(key, None)
    if keep_token_ids:
        return out
    for key in TOKEN_KEYS:
        out[key] = None
    text = out.get("text_config")
    if isinstance(text, dict):
        for key in TOKEN_KEYS:
            text[key] = None
    return out


def hf_config(raw: Mapping[str, Any], *, keep_token_ids: bool = False) -> Any:
    """The transformers config object for a parsed ``config.json`` (no remote code)."""
    from transformers import AutoConfig

    data = clean_config(raw, keep_token_ids=keep_token_ids)
    model_type = known_model_type(data.pop("model_type"), data.get("architectures"))
    return AutoConfig.for_model(model_type, **data)


def known_model_type(model_type: str, architectures: Any) -> str:
    """``model_type``, or the type of the config's architecture class when transformers lacks it.

    # NOTE: Kimi K2 ships ``model_type: kimi_k2`` with DeepSeek-V3's remote code
    # (``architectures: ["DeepseekV3ForCausalLM"]``); transformers knows no ``kimi_k2`` but builds the
    # same model as ``deepseek_v3``, as vLLM does. No remote code is ever run.
    """
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    if model_type in CONFIG_MAPPING_NAMES or not isinstance(architectures, list) or not architectures:
        return model_type
    for known, cls in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.items():
        if cls == architectures[0]:
            return known
    return model_type


def auto_class(model_type: str, kind: str | None = None) -> Any:
    """The Auto class transformers loads ``model_type`` with (``kind``: ``"causal"`` or ``"image_text"``)."""
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    if kind is None:
        # NOTE: a few text-only types are registered only in the image-text table (mistral4 in 5.23).
        image_text = model_type in IMAGE_TEXT_TYPES or model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
        kind = "image_text" if image_text else "causal"
    if kind not in ("causal", "image_text"):
        raise ValueError(f"unknown model kind {kind!r}")
    return AutoModelForImageTextToText if kind == "image_text" else AutoModelForCausalLM


def text_config(hf: Any) -> Any:
    """The language model's config (the config itself for a plain causal LM)."""
    return hf.get_text_config() if hasattr(hf, "get_text_config") else hf


def _representative_layers(layer_types: list[str]) -> list[str]:
    """One layer of each kind, in order of first appearance, at least two layers."""
    kinds = list(dict.fromkeys(layer_types))
    if len(kinds) == 1:
        return kinds * 2
    return kinds


def _shrink_text(text: dict[str, Any], layer_types: list[str] | None) -> None:
    heads = text.get("num_attention_heads")
    kv_heads = text.get("num_key_value_heads")
    for key, value in _TINY_TEXT.items():
        if text.get(key) is not None:
            text[key] = value
    if heads is not None and kv_heads is not None:
        text["num_key_value_heads"] = 4 if kv_heads == heads else 2
    if text.get("q_lora_rank") is not None:
        text["q_lora_rank"] = 128
    # NOTE: longrope factor lists hold one entry per rotary frequency (head_dim / 2).
    rope = text.get("rope_scaling")
    if isinstance(rope, dict):
        head_dim = text.get("head_dim") or _TINY_TEXT["hidden_size"] // _TINY_TEXT["num_attention_heads"]
        for key in ("short_factor", "long_factor"):
            if isinstance(rope.get(key), list):
                rope[key] = rope[key][: head_dim // 2]
    if layer_types:
        chosen = _representative_layers(layer_types)
        text["layer_types"] = chosen
        text["num_hidden_layers"] = len(chosen)
    else:
        text["num_hidden_layers"] = 2
    if text.get("first_k_dense_replace"):
        text["first_k_dense_replace"] = 1  # one dense layer, then experts
    for key in ("max_window_layers",):
        if key in text:
            text[key] = text["num_hidden_layers"]
    if isinstance(text.get("mlp_only_layers"), list):
        text["mlp_only_layers"] = []


def tiny_config(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A few-layer, narrow version of ``raw`` with the same architecture and layer kinds.

    Layer kinds (sliding/full, attention/linear) are read from transformers' own config
    object, so patterns such as Gemma 3's ``sliding_window_pattern`` keep one of each.
    """
    data = clean_config(raw)
    full = text_config(hf_config(raw))
    layer_types = getattr(full, "layer_types", None)
    layer_types = list(layer_types) if isinstance(layer_types, (list, tuple)) and layer_types else None
    text = data.get("text_config")
    _shrink_text(text if isinstance(text, dict) else data, layer_types)
    vision = data.get("vision_config")
    if isinstance(vision, dict):
        vision.update(_TINY_VISION)
        if "mm_tokens_per_image" in data:
            data["mm_tokens_per_image"] = 4  # a 2 x 2 pooled grid of the 4 x 4 patches
    return data


__all__ = [
    "IMAGE_TEXT_TYPES",
    "TOKEN_KEYS",
    "auto_class",
    "clean_config",
    "hf_config",
    "known_model_type",
    "text_config",
    "tiny_config",
]
