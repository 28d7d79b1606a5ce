"""transformers' own modeling code on the meta device: exact tensors for every type it knows.

Where torch and transformers are installed (the CLI, the verifier, local installs), a
config whose checkpoint headers are not at hand is built by transformers on the meta
device (shapes, no storage: seconds, no memory) through :mod:`verify.meta_count`, and the
tensor names are turned back into the checkpoint's (transformers 5 fuses routed experts on
load and splits them again on save: ``revert_weight_conversion``). The result is cached
on disk by config hash (:mod:`planner.model.inventory.cache`), so a cache hit needs
neither torch nor transformers.

torch is imported here lazily, inside :func:`meta_groups`, never when the planner is
imported; the hosted page has no torch and never gets this far. Remote code is never run:
configs are read by transformers' own config classes, ``auto_map`` dropped.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import threading
from collections.abc import Mapping
from typing import Any

from planner.errors import PlannerError
from planner.model.inventory import cache
from planner.model.inventory.groups import StoredGroup, StoredTensor, group_tensors

logger = logging.getLogger(__name__)

#: Set to ``0`` to never build models with transformers (inventories already cached are still used).
META_ENV = "VRAM_PLANNER_META"
#: Set to ``0`` to keep a long-running process (the app) from loading transformers before it is needed.
WARM_UP_ENV = "VRAM_PLANNER_META_WARMUP"
_OFF = ("0", "false", "no", "off")
#: The smallest model that loads transformers' whole modeling stack when built (never cached).
WARM_UP_CONFIG = {
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "vocab_size": 300,
}
_warm_up: threading.Thread | None = None
_warm_up_lock = threading.Lock()


class MetaUnavailable(PlannerError):
    """transformers cannot build this config here (not installed, unknown type, or it failed)."""


def transformers_version() -> str | None:
    """The installed transformers version, read without importing it; None when absent."""
    try:
        return importlib.metadata.version("transformers")
    except importlib.metadata.PackageNotFoundError:
        return None


def meta_enabled() -> bool:
    """Whether this process may build models on the meta device (torch and transformers installed)."""
    if os.environ.get(META_ENV, "").strip() in _OFF:
        return False
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers", "verify"))


def meta_groups(
    config: Mapping[str, Any], *, build: bool | None = None
) -> tuple[tuple[StoredGroup, ...], str]:
    """The stored groups of ``config``'s model, from the cache or built now; with a description.

    A cache hit needs neither torch nor transformers. ``build`` allows (True), forbids (False)
    or leaves to :func:`meta_enabled` (None) building on a miss. Raises :class:`MetaUnavailable`
    with the reason when transformers is absent, does not know the type, or fails to build it.
    """
    version = transformers_version()
    if version is None:
        raise MetaUnavailable("transformers is not installed")
    key = cache.config_key(config, version)
    cached = cache.load(key)
    if cached is not None:
        return cached, f"transformers {version} on the meta device (cached)"
    if not (meta_enabled() if build is None else build):
        raise MetaUnavailable("torch and transformers are not installed here (or VRAM_PLANNER_META=0)")
    _wait_for_warm_up()
    tensors, class_name = _build(dict(config))
    groups = group_tensors(tensors)
    cache.save(key, groups, f"transformers {version} {class_name}")
    return groups, f"transformers {version} {class_name} on the meta device"


def start_warm_up() -> threading.Thread | None:
    """Load torch and transformers' modeling stack in a background thread, once per process.

    For a long-running process (the app's server): the first new architecture a user pastes then
    costs its own build only (0.1-1.6 CPU s on the project's 2-core machine), not the 4-6 CPU s of
    loading transformers first (``benchmarks/meta_inventory.py``). Nothing is started where
    :func:`meta_enabled` is false (the hosted page has no torch) or ``VRAM_PLANNER_META_WARMUP=0``;
    a build asked for meanwhile waits for the thread (:func:`meta_groups`), so imports never race.
    Returns the thread (started now or before), or ``None``.
    """
    global _warm_up
    with _warm_up_lock:
        if _warm_up is None and meta_enabled() and os.environ.get(WARM_UP_ENV, "").strip() not in _OFF:
            _warm_up = threading.Thread(target=_run_warm_up, name="vram-planner-meta-warm-up", daemon=True)
            _warm_up.start()
        return _warm_up


def _run_warm_up() -> None:
    try:
        _build(dict(WARM_UP_CONFIG))
    except Exception:  # a failed warm-up only means the first real build loads transformers itself
        logger.debug("meta-device warm-up failed", exc_info=True)


def _wait_for_warm_up() -> None:
    thread = _warm_up
    if thread is not None and thread is not threading.current_thread():
        thread.join()


def _model_class(model_type: str) -> Any:
    """The Auto class holding the whole checkpoint: image-text-to-text first (vision tower included)."""
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES,
    )

    if model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES:
        return AutoModelForImageTextToText
    if model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return AutoModelForCausalLM
    raise MetaUnavailable(
        f"transformers {transformers_version()} has no causal or image-text model '{model_type}'"
    )


def _build(config: dict[str, Any]) -> tuple[list[StoredTensor], str]:
    model_type = config.get("model_type")
    if not isinstance(model_type, str):
        raise MetaUnavailable("the config has no model_type")
    try:
        from verify.hf import known_model_type
        from verify.meta_count import meta_model, model_tensors

        # NOTE: Kimi K2's "kimi_k2" is DeepSeek-V3's architecture class (see verify.hf.known_model_type)
        model_class = _model_class(known_model_type(model_type, config.get("architectures")))
        try:
            model = meta_model(config, model_class)
        except Exception:
            # NOTE: token ids are dropped first (a shrunk vocabulary fails transformers' range checks),
            # but some config classes require them to be integers (Mllama's bos_token_id): as written.
            model = meta_model(config, model_class, keep_token_ids=True)
        tensors = model_tensors(model)
    except MetaUnavailable:
        raise
    except Exception as exc:  # transformers raises many types for configs it cannot build
        logger.debug("transformers could not build %s", model_type, exc_info=True)
        raise MetaUnavailable(
            f"transformers could not build '{model_type}': {type(exc).__name__}: {exc}"[:300]
        ) from None
    tensors = _checkpoint_names(model, tensors)
    return [StoredTensor(name, None, tuple(int(d) for d in t.shape)) for name, t in tensors.items()], type(
        model
    ).__name__


def _checkpoint_names(model: Any, tensors: dict[str, Any]) -> dict[str, Any]:
    """transformers' parameter names turned back into the checkpoint's, as ``save_pretrained`` does.

    NOTE: transformers 5 loads per-expert checkpoint tensors into fused 3-D parameters
    (``conversion_mapping.py``) and reverts the conversion on save; the reverted names are
    the ones checkpoints, gguf-py's name map and the hand-written builders use.
    """
    try:
        from transformers.core_model_loading import revert_weight_conversion

        return dict(revert_weight_conversion(model, dict(tensors)))
    except Exception:  # an older or newer transformers: keep its own names
        logger.debug("revert_weight_conversion failed; keeping transformers' names", exc_info=True)
        return tensors
