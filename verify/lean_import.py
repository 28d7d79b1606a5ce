"""Import transformers' modeling stack without the optional packages a meta-device build never uses.

When they are installed, transformers imports two optional packages with its modeling code, for
features a model built on the meta device never touches:

* ``hqq.core.quantize`` (``transformers/cache_utils.py``: the HQQ-quantized KV cache), whose class
  bodies call ``torch.compile`` and so import torch's dynamo and inductor: about 3 CPU s measured on
  the project's 2-core machine (``python -X importtime``), the largest single part of the first build;
* ``scipy.optimize`` (``transformers/loss/loss_*detr.py``: the Hungarian matcher of object-detection
  losses): about 0.8 CPU s.

:func:`lean_modeling_import` imports the transformers modules that import them (the first modeling
import then finds those loaded) within :func:`deferred`, where the optional modules are stand-ins whose
names resolve to lazy proxies: a proxy imports the real module the first time it is called or one of
its attributes is read, so a process that later uses HQQ's cache quantizer or SciPy's matcher gets the
real ones. Modules already imported are left alone; nothing changes when a package is not installed.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: Modules transformers imports eagerly only for features a meta-device build never uses.
DEFERRED = ("hqq.core.quantize", "scipy.optimize")


class _Lazy:
    """``module.name``, imported on first use (a call or an attribute read)."""

    __slots__ = ("_module", "_name")

    def __init__(self, module: str, name: str) -> None:
        self._module = module
        self._name = name

    def _target(self) -> Any:
        return getattr(importlib.import_module(self._module), self._name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._target()(*args, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._target(), attr)

    def __repr__(self) -> str:
        return f"<deferred {self._module}.{self._name}>"


class _StandIn(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Lazy(self.__name__, name)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module.split(".")[0]) is not None
    except (ImportError, ValueError):
        return False


@contextmanager
def deferred(modules: tuple[str, ...] = DEFERRED) -> Iterator[None]:
    """Within the block, ``modules`` (those installed and not imported yet) are lazy stand-ins."""
    placed = []
    for name in modules:
        if name in sys.modules or not _installed(name):
            continue
        sys.modules[name] = _StandIn(name)
        placed.append(name)
    try:
        yield
    finally:
        for name in placed:
            if isinstance(sys.modules.get(name), _StandIn):
                del sys.modules[name]


#: transformers' modules that import :data:`DEFERRED` at their top level.
LEAN_MODULES = ("transformers.cache_utils", "transformers.loss.loss_utils")


def lean_modeling_import() -> None:
    """Import :data:`LEAN_MODULES` with :data:`DEFERRED` deferred (once; a no-op when they are loaded)."""
    if all(name in sys.modules for name in LEAN_MODULES):
        return
    with deferred():
        for name in LEAN_MODULES:
            try:
                importlib.import_module(name)
            except ImportError:  # another transformers layout: its modeling import loads what it needs
                continue
