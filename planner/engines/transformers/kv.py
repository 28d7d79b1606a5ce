"""transformers' KV cache: what a 5.x ``DynamicCache`` holds after a prefill, per layer, exactly.

Full layers hold every token, sliding layers keep the last ``window - 1`` tokens
(``DynamicSlidingWindowLayer``), MLA layers the latent (``kv_lora_rank`` as keys plus the rope key
as values), linear layers a conv window of ``conv_kernel`` columns in the model dtype and an
SSM/recurrent state in fp32 (MiniMax's lightning state in the model dtype); a parallel hybrid layer
(Falcon-H1) both; DSA layers the MLA latent plus one indexer key per token.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from planner.memory.kv import CACHE_TYPES, CacheRun, CacheType, LayerCache, expand, geometry_runs, run_lines
from planner.model.spec import AttentionKind, ModelSpec


def transformers_runs(
    spec: ModelSpec, dtype: CacheType, context: int, batch: int
) -> tuple[tuple[CacheRun, ...], Callable[[], list[str]]]:
    """``DynamicCache`` after ``context`` tokens for ``batch`` sequences, one run per layer geometry,
    and a function giving its rule lines.

    # NOTE: transformers ``cache_utils.py`` (5.x): ``DynamicLayer`` concatenates every token;
    # ``DynamicSlidingWindowLayer.update`` keeps ``full_key_states[:, :, -sliding_window + 1:]``,
    # i.e. ``window - 1`` tokens; ``LinearAttentionLayer`` holds the conv state as
    # ``[batch, channels, conv_kernel]`` in the activation dtype and the recurrent state as the
    # kernel returns it (fp32: ``torch_chunk_*`` / ``mamba_chunk_scan`` upcast). DeepSeek-V3's
    # ``past_key_values.update(kv_nope, k_rot, ...)`` caches the latent, not the expanded heads.
    """
    el = dtype.block_bytes  # transformers caches plain dtypes only
    fp32 = CACHE_TYPES["fp32"].block_bytes

    def state(g) -> int:
        # NOTE: LinearAttentionLayer: conv state in the activation dtype, recurrent state fp32, except
        # MiniMaxCache.linear_cache, which keeps the lightning state in the activation dtype.
        return batch * (
            g.conv_channels * g.conv_kernel * el + g.ssm_elements * (el if g.state_model_dtype else fp32)
        )

    out: list[CacheRun] = []
    for run in geometry_runs(spec):
        g, at = run.geometry, run.indices
        if g.kind is AttentionKind.FULL or g.kind is AttentionKind.SLIDING:
            cells = (
                context if g.kind is AttentionKind.FULL else min(context, max((g.window or context) - 1, 0))
            )
            k, v = batch * cells * g.k_elements * el, batch * cells * g.v_elements * el
            # state: 0 unless a parallel hybrid layer (LinearAttentionAndFullAttentionLayer)
            out.append(CacheRun(g.kind, cells, k, v, g, at, state_bytes=state(g)))
        elif g.kind is AttentionKind.MLA:
            # NOTE: DynamicIndexedLayer also concatenates one [index_head_dim] indexer key per token.
            out.append(CacheRun(g.kind, context, batch * context * (g.latent + g.indexer) * el, 0, g, at))
        elif g.kind is AttentionKind.LINEAR:
            out.append(CacheRun(g.kind, 0, 0, 0, g, at, state_bytes=state(g)))
        else:
            out.append(CacheRun(g.kind, 0, 0, 0, g, at))

    runs = tuple(out)
    return runs, partial(_lines, runs, batch, el)  # rule lines made on first read


def _lines(runs: tuple[CacheRun, ...], batch: int, el: int) -> list[str]:
    """:func:`transformers_runs`' rule lines, one per run of alike layers."""

    def describe(r: CacheRun) -> tuple:
        g = r.geometry
        state_el = f"{el} B" if g.state_model_dtype else "4 B fp32"
        state_text = (
            f"{g.conv_channels} ch x {g.conv_kernel} conv cols x {el} B "
            f"+ {g.ssm_elements:,} state x {state_el}"
        )
        if r.kind is AttentionKind.LINEAR:
            return ("linear", f"{batch} seq x ({state_text})")
        if r.kind is AttentionKind.MLA:
            indexer = f" + {g.indexer} indexer key" if g.indexer else ""
            return ("mla", f"{batch} seq x {r.cells:,} tokens x ({g.latent} latent{indexer}) x {el} B")
        label = "full" if r.kind is AttentionKind.FULL else f"sliding(window {g.window}, keeps window-1)"
        hybrid = f" + {batch} seq x ({state_text})" if g.has_state else ""
        if hybrid:
            label = f"{label}+mamba"
        return (
            label,
            f"{batch} seq x {r.cells:,} tokens x ({g.k_elements} K + {g.v_elements} V) x {el} B{hybrid}",
        )

    return run_lines(runs, describe)


def transformers_cache(
    spec: ModelSpec, dtype: CacheType, context: int, batch: int
) -> tuple[tuple[LayerCache, ...], list[str]]:
    """:func:`transformers_runs` layer by layer."""
    runs, lines = transformers_runs(spec, dtype, context, batch)
    return expand(runs), lines()


def transformers_sliding_retention(spec: ModelSpec, dtype: CacheType, context: int, batch: int) -> int:
    """Bytes a sliding layer's prefill still pins after the forward: all ``context`` tokens.

    # NOTE: ``DynamicSlidingWindowLayer.update`` stores ``full_key_states[:, :, -window + 1:]``,
    # a *view* of the ``torch.cat`` result, so the storage of the whole prompt stays alive until
    # the next decode step replaces it (checked on CPU: ``untyped_storage().nbytes()``).
    """
    el = dtype.block_bytes
    extra = 0
    for run in geometry_runs(spec):
        g = run.geometry
        if g.kind is AttentionKind.SLIDING:
            kept = min(context, max((g.window or context) - 1, 0))
            extra += batch * (context - kept) * (g.k_elements + g.v_elements) * el * len(run.indices)
    return extra
