"""What an inference engine is to the planner: where tensors live and how it sizes caches and buffers."""

from __future__ import annotations

from abc import ABC, abstractmethod

from planner.formats.base import QuantFormat
from planner.memory.estimate import MemoryEstimate, RunSettings
from planner.model.spec import ModelSpec


class Engine(ABC):
    """One engine's memory model.

    ``id`` is what users type (``transformers``, ``vllm``, ``llama.cpp``); ``kv_dtypes``
    the cache types it accepts; ``source`` cites the engine code the rules follow.
    """

    id: str
    description: str
    source: str
    kv_dtypes: tuple[str, ...]

    def loads(self, fmt: QuantFormat) -> bool:
        """Whether this engine can load weights in ``fmt``."""
        return self.id in fmt.engines

    @abstractmethod
    def estimate(self, spec: ModelSpec, fmt: QuantFormat, settings: RunSettings) -> MemoryEstimate:
        """Bytes per component for ``spec`` stored in ``fmt`` and run with ``settings``."""
