"""TensorRT-LLM's KV cache: paged, ``tokens_per_block`` (32) tokens per block, every attention layer.

``KVCacheManager`` (tensorrt_llm/_torch/pyexecutor/resource_manager.py) allocates blocks of
``tokens_per_block`` tokens of ``get_cache_size_per_token`` bytes (KV heads per rank x head dim x 2 x
layers x dtype; MLA one latent).
"""

from __future__ import annotations

from planner.memory import kv
from planner.memory.figure import Figure
from planner.model.spec import ModelSpec

SOURCE = "NVIDIA/TensorRT-LLM tensorrt_llm/_torch/pyexecutor/resource_manager.py (KVCacheManager, tokens_per_block)"
TOKENS_PER_BLOCK = 32


def kv_figure(spec: ModelSpec, dtype: kv.CacheType, context: int, batch: int) -> Figure:
    """What ``batch`` requests of ``context`` tokens occupy, in whole 32-token blocks (exact)."""
    layers, lines = kv.token_pool_cache(spec, dtype, context, batch, TOKENS_PER_BLOCK)
    return kv.cache_figure(layers, lines, keys=("context", "batch", "kv_dtype_k"), source=SOURCE)


__all__ = ["SOURCE", "TOKENS_PER_BLOCK", "kv_figure"]
