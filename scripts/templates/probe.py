"""Build a model type's model on the meta device from (perturbed) configs and record its tensors.

Offline only (imports torch and transformers). One :class:`Observation` is one config
given to transformers: the config dict we passed, the config transformers resolved from
it (``to_dict()`` after its own defaults and derivations), and every parameter and
persistent buffer the model class allocates, with its shape.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import keyword
import logging
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

#: Config keys that never change a tensor shape; not perturbed (saves builds, avoids noise).
SKIP_KEY = re.compile(
    r"(dropout|pdrop|_eps$|^eps$|epsilon|initializer|init_std|std$|token_id|token_ids|token_index|_token$|"
    r"^rope|rope_|theta|use_cache|^output_|return_dict|architectures|dtype|transformers_version|label|"
    r"temperature|aux_loss|_coef|jitter|^max_length$|^min_length$|num_beams|top_p$|repetition_penalty|"
    r"length_penalty|bad_words|^prefix$|task_specific|decoder_start|forced_|remove_invalid|typical_p|"
    r"no_repeat|early_stopping|num_return_sequences|tokenizer_class|problem_type|finetuning_task|"
    r"chunk_size_feed_forward|_attn_implementation|pruned_heads|torchscript|_name_or_path|layerdrop|"
    r"softcap|soft_cap|logit_scale|_multiplier$|scaling$|_scale$|^scale_|router_z|loss|capacity|"
    r"gradient_checkpointing|use_return_dict|"
    r"_commit_hash|^sep$|separator|_flash|use_flash|tp_plan|pp_plan|"
    r"sliding_window$|attention_window$|^chunk_size$|max_window_layers|^alpha$|^beta$|clip_qkv|"
    r"^norm_topk|routed_scaling|_range$|^seed$|^max_position_embeddings_rope|mrope|spatial_merge_unit)"
)
#: Keys whose value is a nested sub-config (besides ``*_config`` keys).
SUB_CONFIG_KEYS = {"encoder", "decoder"}


def is_sub_config(key: str, value: Any) -> bool:
    """Nested model configs: ``text_config``, ``vision_config``, ``encoder``..."""
    return isinstance(value, dict) and (
        key.endswith("_config") or key in SUB_CONFIG_KEYS or "model_type" in value
    )


def ok_name(key: str) -> bool:
    return (
        key.isidentifier()
        and not keyword.iskeyword(key)
        and key not in ("i", "j", "n", "True", "False", "None")
    )


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"text_config": {"hidden_size": 8}}`` -> ``{"text_config.hidden_size": 8}`` (sub-configs only)."""
    out: dict[str, Any] = {}
    for key, value in d.items():
        if not ok_name(key):
            continue
        path = f"{prefix}{key}"
        if is_sub_config(key, value):
            out.update(flatten(value, f"{path}."))
        elif isinstance(value, dict):
            continue
        else:
            out[path] = value
    return out


def get_path(d: dict[str, Any], path: str) -> Any:
    node: Any = d
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def has_path(d: dict[str, Any], path: str) -> bool:
    node: Any = d
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def set_path(d: dict[str, Any], path: str, value: Any) -> None:
    node = d
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def del_path(d: dict[str, Any], path: str) -> None:
    node: Any = d
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.get(part)
        if not isinstance(node, dict):
            return
    node.pop(parts[-1], None)


def json_clean(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


@dataclass
class Observation:
    given: dict[str, Any]
    resolved: dict[str, Any]  # flattened
    tensors: dict[str, tuple[int, ...]]
    classes: dict[str, str] = field(default_factory=dict)  # tensor name -> owning module class


AUTO_CLASSES = {
    "causal": "AutoModelForCausalLM",
    "image_text": "AutoModelForImageTextToText",
    "base": "AutoModel",
}


def quiet():
    """Silence transformers' and torch's chatter while building hundreds of models."""
    import transformers

    transformers.logging.set_verbosity_error()
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)


class Prober:
    """Builds ``model_type`` through one Auto class on the meta device."""

    def __init__(self, model_type: str, kind: str, base: dict[str, Any] | None = None) -> None:
        import transformers
        from transformers import AutoConfig

        self.model_type = model_type
        self.kind = kind
        self.auto = getattr(transformers, AUTO_CLASSES[kind])
        if base is None:
            base = AutoConfig.for_model(model_type).to_dict()
        self.base = json_clean(base)
        self.base["model_type"] = model_type
        self.builds = 0
        self.config_class = type(AutoConfig.for_model(model_type))

    def config(self, given: dict[str, Any]) -> Any:
        from transformers import AutoConfig

        data = copy.deepcopy({k: v for k, v in given.items() if k != "model_type"})
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return AutoConfig.for_model(self.model_type, **data)

    def resolve(self, given: dict[str, Any]) -> dict[str, Any] | None:
        """The config transformers resolves from ``given`` (flattened), or ``None`` if it refuses."""
        try:
            return flatten(json_clean(self.config(given).to_dict()))
        except Exception:
            return None

    def observe(self, given: dict[str, Any]) -> Observation | None:
        """Build the model for ``given``; ``None`` when transformers refuses the config."""
        import torch

        try:
            cfg = self.config(given)
            resolved = flatten(json_clean(cfg.to_dict()))
            with (
                torch.device("meta"),
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                model = self.auto.from_config(cfg)
        except Exception:
            return None
        finally:
            self.builds += 1
        tensors: dict[str, tuple[int, ...]] = {}
        classes: dict[str, str] = {}
        owners = {}
        for module_name, module in model.named_modules():
            for name, _ in module.named_parameters(recurse=False):
                owners[f"{module_name}.{name}" if module_name else name] = type(module).__name__
            for name, buf in module._buffers.items():
                if buf is not None and name not in module._non_persistent_buffers_set:
                    full = f"{module_name}.{name}" if module_name else name
                    tensors[full] = tuple(buf.shape)
                    classes[full] = type(module).__name__
        for name, p in model.named_parameters():
            tensors[name] = tuple(p.shape)
            classes[name] = owners.get(name, "")
        obs = Observation(dict(given), resolved, tensors, classes)
        obs.model = model  # type: ignore[attr-defined]  # kept for the base build only (sub-models)
        return obs


def sub_models(model: Any, config: Any) -> dict[str, str]:
    """``{module prefix: sub-config key}`` for sub-models built from a nested config (outermost only)."""
    from transformers import PretrainedConfig, PreTrainedModel

    subs = {
        key: getattr(config, key)
        for key in dir(config)
        if not key.startswith("_") and isinstance(getattr(config, key, None), PretrainedConfig)
    }
    found: dict[str, str] = {}
    for name, module in model.named_modules():
        if not name or not isinstance(module, PreTrainedModel):
            continue
        for key, sub in subs.items():
            if module.config is sub and not any(name.startswith(p + ".") for p in found):
                found[name] = key
    return found
