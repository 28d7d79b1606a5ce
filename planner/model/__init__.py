"""From ``config.json`` to :class:`ModelSpec`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planner.errors import ConfigError, InvalidFieldError
from planner.model import templates
from planner.model.architectures import builder_for
from planner.model.architectures.llama import build_generic
from planner.model.config import ConfigView, parse_config_bytes
from planner.model.spec import AttentionKind, LayerSpec, ModelSpec, Role, TensorGroup
from planner.model.templated import build_from_template

__all__ = [
    "AttentionKind",
    "LayerSpec",
    "ModelSpec",
    "Role",
    "TensorGroup",
    "model_from_bytes",
    "model_from_config",
]


def model_from_config(raw: Mapping[str, Any], name: str = "uploaded config.json") -> ModelSpec:
    """Describe the model a parsed ``config.json`` defines.

    Multimodal wrappers keep the language model in ``text_config``; the builder for
    the wrapper's ``model_type`` (if any) also counts the vision tower. Configs that
    declare custom code (``auto_map``) are read as data only: no code is ever run.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError("config.json must hold a JSON object")
    root = dict(raw)
    model_type = root.get("model_type")
    if model_type is not None and not isinstance(model_type, str):
        raise InvalidFieldError("model_type", "must be a string")
    text_raw = root.get("text_config")
    if text_raw is not None and not isinstance(text_raw, Mapping):
        raise InvalidFieldError("text_config", "must be an object")

    builder = builder_for(model_type) if model_type else None
    template = templates.find(model_type, root) if model_type and builder is None else None
    if builder is not None:
        view = _text_view(root, model_type)
        if view.architecture != model_type and builder_for(view.architecture) is not builder:
            # NOTE: a text_config of another family than the builder's (fuzzed or hand-edited
            # configs): the builder reads it under its own model_type, as transformers would.
            view = ConfigView(view.raw, model_type, view.prefix)
        spec = builder(view, name, root)
    elif template is not None:
        spec = _from_template(template, root, name)
    elif text_raw is not None:
        text_view = _text_view(root, model_type)
        inner = builder_for(text_view.architecture)
        spec = inner(text_view, name, root) if inner else build_generic(text_view, name)
        spec = _with_notes(
            spec,
            f"only the language model in text_config was counted; the '{model_type}' wrapper's "
            "vision/audio parts are not known to the planner",
            approximate=True,
        )
    else:
        if model_type is None and not any(k in root for k in ("hidden_size", "n_embd", "d_model")):
            raise ConfigError("config.json has neither 'model_type' nor 'hidden_size': is it a model config?")
        spec = build_generic(ConfigView(root, model_type or "unknown"), name)
    if "auto_map" in root:
        spec = _with_notes(
            spec,
            "the config declares custom modeling code (auto_map); the planner never runs it and "
            "counted the standard fields only",
        )
    return spec


def _from_template(tpl: Mapping[str, Any], root: dict[str, Any], name: str) -> ModelSpec:
    """A template's spec; a multimodal model's language model gives the per-layer cache geometry.

    # NOTE: when ``text_config`` names another type than the template was derived with (LLaVA
    # around Qwen2 instead of Llama), the language model is counted by that type's own builder.
    """
    section = tpl.get("text_config") or ""
    if not section:
        return build_from_template(tpl, root, name)
    text_raw = root.get(section)
    default_type = (tpl.get("sub_configs") or {}).get(section)
    text_type = text_raw.get("model_type") if isinstance(text_raw, Mapping) else None
    if text_type is not None and not isinstance(text_type, str):
        raise InvalidFieldError(f"{section}.model_type", "must be a string")
    text_spec = None
    inner = (text_type or default_type) if isinstance(text_raw, Mapping) else None
    if inner and inner != tpl["model_type"] and (builder_for(inner) or templates.find(inner, text_raw)):
        text_spec = model_from_config({**_text_view(root, tpl["model_type"]).raw, "model_type": inner}, name)
    replaced = text_spec is not None and text_type is not None and text_type != default_type
    if text_type is not None and text_type != default_type and text_spec is None:
        raise ConfigError(
            f"{section}.model_type is '{text_type:.40}', which the planner does not know "
            f"(the '{tpl['model_type']}' template expects '{default_type}')"
        )
    return build_from_template(tpl, root, name, text_spec=text_spec, text_replaced=replaced)


def model_from_bytes(data: bytes, name: str = "uploaded config.json") -> ModelSpec:
    """Parse an uploaded ``config.json`` and describe its model (or raise :class:`ConfigError`).

    A file from the planner's own catalog (``data/models/*.json``: the config under ``config``,
    beside ``id`` and ``reference``) is read too, as that model. Errors name the file.
    """
    raw = parse_config_bytes(data)
    if _is_catalog_entry(raw):
        name, raw = raw["id"], raw["config"]
    try:
        return model_from_config(raw, name)
    except ConfigError as exc:
        if name != "uploaded config.json" and not str(exc).startswith(name):
            exc.args = (f"{name}: {exc}", *exc.args[1:])
        raise


def _is_catalog_entry(raw: Any) -> bool:
    """Whether ``raw`` is a catalog file (``data/models/README.md``) rather than a bare config."""
    return (
        isinstance(raw, Mapping)
        and "model_type" not in raw
        and isinstance(raw.get("config"), Mapping)
        and isinstance(raw.get("id"), str)
        and len(raw["id"]) <= 200
    )


def _text_view(root: dict[str, Any], model_type: str | None) -> ConfigView:
    text = root.get("text_config")
    if isinstance(text, Mapping):
        arch = text.get("model_type") if isinstance(text.get("model_type"), str) else model_type
        merged = {k: v for k, v in root.items() if k in ("tie_word_embeddings",)} | dict(text)
        return ConfigView(merged, arch or "unknown", prefix="text_config.")
    return ConfigView(root, model_type or "unknown")


def _with_notes(spec: ModelSpec, note: str, *, approximate: bool = False) -> ModelSpec:
    from dataclasses import replace

    return replace(spec, notes=(*spec.notes, note), approximate=spec.approximate or approximate)
