"""vLLM's KV cache (v1 KV cache specs, paged in blocks; hybrid KV-cache groups), exactly.

Pages of ``block_size`` (16) tokens; sliding layers
``cdiv(min(window - 1 + max_num_batched_tokens, max_model_len), block) + 1`` blocks; MLA one
576-wide latent per token; Mamba layers one page per sequence, with the attention block size
raised until an attention page holds a Mamba state; hybrid models padded to whole KV-cache groups.
"""

from __future__ import annotations

from collections import Counter

from planner.frozen import record
from planner.memory.kv import PART_NAMES, CacheType, LayerCache, cdiv, group_lines, layer_geometry
from planner.model.spec import AttentionKind, ModelSpec

VLLM_BLOCK_SIZE = 16  # CacheConfig.block_size default on CUDA


@record
class VllmLayout:
    """How vLLM pages this model: block sizes and per-layer page bytes."""

    attn_block: int  # tokens per attention block (16, raised for Mamba hybrids)
    mamba_page: int  # bytes of one (padded) Mamba state page, 0 without Mamba layers
    group_size: int  # layers per KV-cache group (hybrid allocator), 0 when uniform
    padded_layers: dict[str, int]  # kind -> layer slots charged, padding included


def _vllm_group_size(counts: dict[str, int]) -> int:
    """``_get_kv_cache_groups_uniform_page_size``: the min layer count, or the max if < 1.5 x min."""
    lo, hi = min(counts.values()), max(counts.values())
    return hi if hi < lo * 1.5 else lo


def vllm_cache(
    spec: ModelSpec,
    dtype: CacheType,
    state_dtype: CacheType,
    context: int,
    batch: int,
    max_num_batched_tokens: int,
    block_size: int = VLLM_BLOCK_SIZE,
) -> tuple[tuple[LayerCache, ...], list[str], VllmLayout]:
    """Blocks vLLM allocates for ``batch`` requests of ``context`` tokens (``max_model_len = context``).

    # NOTE: vllm/v1/kv_cache_interface.py: ``FullAttentionSpec`` page = block x kv_heads x
    # (head + head_v) x dtype, ``cdiv(max_model_len, block)`` pages; ``SlidingWindowSpec``
    # ``(cdiv(min(window - 1 + max_num_batched_tokens, max_model_len), block) + 1)`` pages;
    # ``MLAAttentionSpec`` page = block x 1 x 576 x dtype; ``MambaSpec`` one page per request
    # (``mamba_cache_mode`` none), conv state ``kernel - 1`` columns. Hybrids:
    # ``verify_and_update_config`` raises the attention block to ``16 * cdiv(mamba_page, 16 *
    # attn_page_per_token)`` and pads the Mamba page to it; ``_get_kv_cache_groups_uniform_page_size``
    # pads every layer type to whole groups (``Add N padding layers``).
    """
    el = dtype.block_bytes
    geoms = layer_geometry(spec)
    # Mamba state page (vLLM keeps conv_kernel - 1 conv columns)
    mamba_pages = [
        g.conv_channels * max(g.conv_kernel - 1, 0) * el + g.ssm_elements * state_dtype.block_bytes
        for g in geoms
        if g.kind is AttentionKind.LINEAR or g.has_state
    ]
    mamba_page = max(mamba_pages, default=0)
    attn_per_token = max(
        [
            (g.k_elements + g.v_elements) * el
            for g in geoms
            if g.kind in (AttentionKind.FULL, AttentionKind.SLIDING)
        ]
        + [g.latent * el for g in geoms if g.kind is AttentionKind.MLA],
        default=0,
    )
    attn_block = block_size
    if mamba_page and attn_per_token:
        attn_block = max(block_size, 16 * cdiv(mamba_page, 16 * attn_per_token))
        mamba_page = attn_block * attn_per_token  # padded to exactly one attention page

    out: list[LayerCache] = []
    for g in geoms:
        if g.kind is AttentionKind.FULL:
            blocks = cdiv(context, attn_block)
            out.append(
                LayerCache(
                    g.index,
                    g.kind,
                    blocks * attn_block,
                    batch * blocks * attn_block * g.k_elements * el,
                    batch * blocks * attn_block * g.v_elements * el,
                    # NOTE: a parallel hybrid layer (Falcon-H1) registers a Mamba layer as well: one page.
                    state_bytes=batch * mamba_page if g.has_state else 0,
                )
            )
        elif g.kind is AttentionKind.SLIDING:
            tokens = min((g.window or context) - 1 + max_num_batched_tokens, context)
            blocks = cdiv(tokens, attn_block) + 1
            out.append(
                LayerCache(
                    g.index,
                    g.kind,
                    blocks * attn_block,
                    batch * blocks * attn_block * g.k_elements * el,
                    batch * blocks * attn_block * g.v_elements * el,
                )
            )
        elif g.kind is AttentionKind.MLA:
            blocks = cdiv(context, attn_block)
            out.append(
                LayerCache(
                    g.index, g.kind, blocks * attn_block, batch * blocks * attn_block * g.latent * el, 0
                )
            )
        elif g.kind is AttentionKind.LINEAR:
            page = mamba_page or (
                g.conv_channels * max(g.conv_kernel - 1, 0) * el + g.ssm_elements * state_dtype.block_bytes
            )
            out.append(LayerCache(g.index, g.kind, 0, 0, 0, state_bytes=batch * page))
        else:
            out.append(LayerCache(g.index, g.kind, 0, 0, 0))

    # hybrid allocator: every type is padded to whole groups of `group_size` layers
    counts = Counter(PART_NAMES[layer.kind] for layer in out if layer.kind is not AttentionKind.NONE)
    group_size = 0
    padded = dict(counts)
    if len(counts) > 1:
        group_size = _vllm_group_size(counts)
        padded = {k: cdiv(n, group_size) * group_size for k, n in counts.items()}
        extra = {k: padded[k] - counts[k] for k in counts}
        if any(extra.values()):
            last = {}
            for layer in out:
                if layer.kind is not AttentionKind.NONE:
                    last[PART_NAMES[layer.kind]] = layer
            rebuilt = []
            for layer in out:
                name = PART_NAMES.get(layer.kind)
                if layer.kind is not AttentionKind.NONE and last.get(name) is layer and extra.get(name):
                    per_layer = layer.k_bytes + layer.v_bytes + layer.state_bytes
                    layer = LayerCache(
                        layer.index,
                        layer.kind,
                        layer.cells,
                        layer.k_bytes,
                        layer.v_bytes,
                        layer.state_bytes,
                        padding_bytes=extra[name] * per_layer,
                    )
                rebuilt.append(layer)
            out = rebuilt
    layout = VllmLayout(attn_block, mamba_page if mamba_pages else 0, group_size, padded)

    gmap = {g.index: g for g in geoms}

    def describe(layer: LayerCache) -> tuple:
        g = gmap[layer.index]
        if layer.kind is AttentionKind.LINEAR:
            return ("mamba", f"{batch} seq x 1 page of {layer.state_bytes // max(batch, 1):,} B")
        blocks = layer.cells // attn_block
        if layer.kind is AttentionKind.MLA:
            return (
                "mla",
                f"{batch} seq x {blocks:,} blocks x {attn_block} tokens x {g.latent} latent x {el} B",
            )
        label = "full" if layer.kind is AttentionKind.FULL else f"sliding(window {g.window}, +1 block)"
        return (
            label,
            f"{batch} seq x {blocks:,} blocks x {attn_block} tokens x ({g.k_elements} K + {g.v_elements} V) x {el} B",
        )

    lines = group_lines(out, describe)
    if mamba_pages and attn_per_token:
        lines.append(f"attention block raised to {attn_block} tokens so one page holds a Mamba state")
    if group_size and any(padded[k] != counts[k] for k in counts):
        pads = ", ".join(f"{padded[k] - counts[k]} {k}" for k in counts if padded[k] != counts[k])
        lines.append(f"hybrid KV groups of {group_size} layers add padding layers ({pads})")
    return tuple(out), lines, layout
