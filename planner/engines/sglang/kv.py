"""SGLang's KV cache: a pool of single tokens (``page_size`` 1), one cell per token of every request.

``MHATokenToKVPool`` (python/sglang/srt/mem_cache/memory_pool.py) holds, per layer, K and V buffers
of ``[size + page_size, head_num, head_dim]``; ``MLATokenToKVPool`` one ``kv_lora_rank +
qk_rope_head_dim`` latent per token; hybrid Mamba models a per-request state pool.
"""

from __future__ import annotations

from planner.memory import kv
from planner.memory.figure import Figure
from planner.model.spec import ModelSpec

SOURCE = "sgl-project/sglang python/sglang/srt/mem_cache/memory_pool.py (MHATokenToKVPool, MLATokenToKVPool)"
PAGE_SIZE = 1


def kv_figure(spec: ModelSpec, dtype: kv.CacheType, context: int, batch: int) -> Figure:
    """What ``batch`` requests of ``context`` tokens occupy in the token pool (exact)."""
    layers, lines = kv.token_pool_cache(spec, dtype, context, batch, PAGE_SIZE)
    return kv.cache_figure(layers, lines, keys=("context", "batch", "kv_dtype_k"), source=SOURCE)


__all__ = ["PAGE_SIZE", "SOURCE", "kv_figure"]
