"""llama.cpp's KV cache (``llama_kv_cache``, ``llama_kv_cache_iswa``, ``llama_memory_recurrent``), exactly.

``n_ctx`` padded to 256 cells per sequence stream, SWA layers ``pad(window + n_ubatch, 256)``
cells, MLA layers one K row of ``kv_lora_rank + rope`` and no V tensor, recurrent layers
``conv_kernel - 1`` conv columns plus the SSM state, both F32, one row per sequence.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from planner.memory.estimate import SettingsError
from planner.memory.kv import (
    CACHE_TYPES,
    CacheRun,
    CacheType,
    LayerCache,
    expand,
    geometry_runs,
    pad,
    run_lines,
)
from planner.model.spec import AttentionKind, ModelSpec

LLAMACPP_CTX_PAD = 256  # llama-context.cpp: cparams.n_ctx = GGML_PAD(cparams.n_ctx, 256)
LLAMACPP_SWA_PAD = 256  # llama-kv-cache-iswa.cpp: "the SWA cache is always padded to 256"


def llamacpp_cells(context: int) -> int:
    """KV cells one sequence stream gets for ``context`` tokens (``GGML_PAD(n_ctx_seq, 256)``)."""
    return pad(context, LLAMACPP_CTX_PAD)


def llamacpp_swa_cells(window: int, context: int, ubatch: int) -> int:
    """SWA cells per stream: ``GGML_PAD(min(n_ctx_seq, n_swa + n_ubatch), 256)`` (non-unified streams)."""
    return pad(min(llamacpp_cells(context), window + ubatch), LLAMACPP_SWA_PAD)


def llamacpp_cache(
    spec: ModelSpec,
    k_type: CacheType,
    v_type: CacheType,
    context: int,
    batch: int,
    ubatch: int,
    *,
    swa_full: bool = False,
) -> tuple[tuple[LayerCache, ...], list[str]]:
    """:func:`llamacpp_runs` layer by layer."""
    runs, lines = llamacpp_runs(spec, k_type, v_type, context, batch, ubatch, swa_full=swa_full)
    return expand(runs), lines()


def llamacpp_runs(
    spec: ModelSpec,
    k_type: CacheType,
    v_type: CacheType,
    context: int,
    batch: int,
    ubatch: int,
    *,
    swa_full: bool = False,
) -> tuple[tuple[CacheRun, ...], Callable[[], list[str]]]:
    """llama.cpp's cache for ``batch`` streams of ``context`` tokens, one run per layer geometry, and a
    function giving its rule lines.

    # NOTE: one stream per sequence (``-np batch``, non-unified: ``n_stream = n_seq_max``), each
    # ``GGML_PAD(context, 256)`` cells. K row = ``n_embd_k_gqa`` in ``type_k``, V row =
    # ``n_embd_v_gqa`` in ``type_v`` (``ggml_new_tensor_3d(ctx, type_k, n_embd_k_gqa, kv_size,
    # n_stream)``, src/llama-kv-cache.cpp). MLA: ``has_v = !is_mla``: only K, of
    # ``kv_lora_rank + n_rot`` (576 for DeepSeek-V3). Recurrent: ``n_embd_r = (d_conv - 1) *
    # conv_channels`` and ``n_embd_s`` per sequence, GGML_TYPE_F32 for both (llama-model.cpp
    # ``create_memory``; src/llama-memory-recurrent.cpp).
    """
    f32 = CACHE_TYPES["fp32"].block_bytes
    cells = llamacpp_cells(context)
    out: list[CacheRun] = []
    swa_seen: list[int] = []
    for run in geometry_runs(spec):
        g, at = run.geometry, run.indices
        if g.kind in (AttentionKind.FULL, AttentionKind.SLIDING):
            if g.kind is AttentionKind.SLIDING and not swa_full:
                n = llamacpp_swa_cells(g.window or context, context, ubatch)
                swa_seen.append(n)
            else:
                n = cells
            k_row = _head_rows(k_type, g.k_elements, g.k_head_dim, "K")
            v_row = _head_rows(v_type, g.v_elements, g.v_head_dim, "V")
            # NOTE: a parallel hybrid layer (Falcon-H1) also has a recurrent row: llama_memory_hybrid
            # keeps both the KV cache and llama_memory_recurrent for such layers.
            hybrid = (g.conv_channels * max(g.conv_kernel - 1, 0) + g.ssm_elements) * f32
            out.append(
                CacheRun(
                    g.kind, n, batch * n * k_row, batch * n * v_row, g, at, state_bytes=max(batch, 1) * hybrid
                )
            )
        elif g.kind is AttentionKind.MLA:
            k_row = _head_rows(k_type, g.latent, g.latent, "K (MLA latent)")
            out.append(CacheRun(g.kind, cells, batch * cells * k_row, 0, g, at))
        elif g.kind is AttentionKind.LINEAR:
            r = g.conv_channels * max(g.conv_kernel - 1, 0)
            s = g.ssm_elements
            out.append(CacheRun(g.kind, 0, 0, 0, g, at, state_bytes=max(batch, 1) * (r + s) * f32))
        else:
            out.append(CacheRun(g.kind, 0, 0, 0, g, at))
    runs = tuple(out)
    swa = swa_seen[0] if swa_seen else None
    return runs, partial(_lines, runs, k_type, v_type, batch, ubatch, swa)  # rule lines made on first read


def _lines(
    runs: tuple[CacheRun, ...], k_type: CacheType, v_type: CacheType, batch: int, ubatch: int, swa: int | None
) -> list[str]:
    """:func:`llamacpp_runs`' rule lines, one per run of alike layers (and the SWA cells rule)."""
    kb, vb = k_type.bytes_per_element, v_type.bytes_per_element

    def describe(layer: CacheRun) -> tuple:
        g = layer.geometry
        if layer.kind is AttentionKind.LINEAR:
            r = g.conv_channels * max(g.conv_kernel - 1, 0)
            return ("recurrent", f"{batch} seq x ({r:,} conv + {g.ssm_elements:,} state) x 4 B F32")
        if layer.kind is AttentionKind.MLA:
            return (
                "mla",
                f"{batch} seq x {layer.cells:,} cells x {g.latent} K x {kb:g} B ({k_type.name}), no V",
            )
        label = "full" if layer.kind is AttentionKind.FULL else f"swa(window {g.window})"
        return (
            label,
            f"{batch} seq x {layer.cells:,} cells x ({g.k_elements} K x {kb:g} B {k_type.name} "
            f"+ {g.v_elements} V x {vb:g} B {v_type.name})",
        )

    text = run_lines(runs, describe)
    if swa is not None:
        text.append(f"swa cells = pad(min(pad(ctx,256), window + n_ubatch {ubatch}), 256) = {swa}")
    return text


def _head_rows(t: CacheType, row: int, head_dim: int, what: str) -> int:
    """Bytes of one cell's row; block types need whole blocks per head (llama.cpp views per head)."""
    if t.quantized and head_dim % t.block_elements:
        raise SettingsError(
            f"llama.cpp cannot store {what} in {t.name}: the head dimension {head_dim} is not a multiple "
            f"of its block of {t.block_elements}; use f16, bf16, f32 or another head-compatible type"
        )
    return t.row_bytes(row)
