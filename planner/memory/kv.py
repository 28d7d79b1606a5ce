"""KV cache and recurrent-state bytes per layer, by attention kind, as each engine sizes them.

Everything here is exact arithmetic: element counts from the :class:`ModelSpec`, the byte
size of each cache type (block types at their true block sizes), and the number of token
slots each engine allocates per layer. The engines differ only in that last number and in
the cache types they accept:

* transformers (5.x ``DynamicCache``): full layers hold every token, sliding layers keep the
  last ``window - 1`` tokens (``DynamicSlidingWindowLayer``), MLA layers the latent
  (``kv_lora_rank`` as keys plus the rope key as values), linear layers a conv window of
  ``conv_kernel`` columns in the model dtype and an SSM/recurrent state in fp32.
* llama.cpp: ``n_ctx`` padded to 256 cells per sequence stream, SWA layers
  ``pad(window + n_ubatch, 256)`` cells, MLA layers one K row of ``kv_lora_rank + rope``
  and no V tensor, recurrent layers ``conv_kernel - 1`` conv columns plus the SSM state,
  both F32, one row per sequence.
* vLLM: pages of ``block_size`` (16) tokens; sliding layers
  ``cdiv(min(window - 1 + max_num_batched_tokens, max_model_len), block) + 1`` blocks;
  MLA one 576-wide latent per token; Mamba layers one page per sequence, with the
  attention block size raised until an attention page holds a Mamba state; hybrid models
  padded to whole KV-cache groups.

Each engine module turns the :class:`LayerCache` tuple into a :class:`Figure` with
:func:`cache_figure`; ``Figure.parts`` holds the bytes per attention kind.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from planner.memory.estimate import SettingsError
from planner.memory.figure import Figure
from planner.model.spec import AttentionKind, LayerSpec, ModelSpec, Role

MIB = 1 << 20
GIB = 1 << 30

# ---------------------------------------------------------------------------------------------
# cache element types
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CacheType:
    """One cache element type: ``block_bytes`` bytes hold ``block_elements`` elements."""

    name: str
    block_bytes: int
    block_elements: int = 1

    @property
    def quantized(self) -> bool:
        """True for block-quantized types (llama.cpp q8_0, q4_0, ...)."""
        return self.block_elements > 1

    @property
    def bytes_per_element(self) -> float:
        """Average bytes per element (1.0625 for q8_0)."""
        return self.block_bytes / self.block_elements

    def row_bytes(self, elements: int) -> int:
        """Exact bytes of ``elements`` consecutive elements (ggml ``ggml_row_size``)."""
        if elements % self.block_elements:
            raise SettingsError(
                f"cache type {self.name} stores blocks of {self.block_elements} elements; "
                f"a row of {elements} is not a multiple of {self.block_elements}"
            )
        return elements // self.block_elements * self.block_bytes


#: Cache element types. Block types follow ggml's ``static_assert(sizeof(block_...))``
#: (ggml-org/ggml ``src/ggml-common.h``): q8_0 = fp16 scale + 32 int8 = 34 B per 32;
#: q5_1 = 2 fp16 + 4 B high bits + 16 B = 24; q5_0 = 22; q4_1 = 20; q4_0 = iq4_nl = 18.
CACHE_TYPES: dict[str, CacheType] = {
    t.name: t
    for t in (
        CacheType("fp32", 4),
        CacheType("fp16", 2),
        CacheType("bf16", 2),
        CacheType("fp8", 1),
        CacheType("fp8_e4m3", 1),
        CacheType("fp8_e5m2", 1),
        CacheType("q8_0", 34, 32),
        CacheType("q5_1", 24, 32),
        CacheType("q5_0", 22, 32),
        CacheType("q4_1", 20, 32),
        CacheType("q4_0", 18, 32),
        CacheType("iq4_nl", 18, 32),
    )
}

_ALIASES = {
    "f32": "fp32",
    "float32": "fp32",
    "float": "fp32",
    "f16": "fp16",
    "float16": "fp16",
    "half": "fp16",
    "bfloat16": "bf16",
}


def normalize_cache_type(name: str) -> str:
    """The canonical cache type name (``f16`` -> ``fp16``), lower case; unknown names pass through."""
    key = name.strip().lower()
    return _ALIASES.get(key, key)


def cache_type(name: str) -> CacheType:
    """The :class:`CacheType` for ``name`` (aliases accepted)."""
    key = normalize_cache_type(name)
    if key not in CACHE_TYPES:
        raise SettingsError(f"unknown cache type '{name:.40}'; known: {', '.join(CACHE_TYPES)}")
    return CACHE_TYPES[key]


# ---------------------------------------------------------------------------------------------
# what each layer caches, engine-independent
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LayerGeometry:
    """What one layer caches, read from the spec.

    Per token: ``k_elements`` and ``v_elements`` (all KV heads), or ``latent`` for MLA.
    Per sequence (linear layers): a depthwise conv window of ``conv_kernel`` columns of
    ``conv_channels`` and ``ssm_elements`` of recurrent state.
    """

    index: int
    kind: AttentionKind
    window: int | None = None
    k_elements: int = 0
    v_elements: int = 0
    k_head_dim: int = 0
    v_head_dim: int = 0
    latent: int = 0
    conv_channels: int = 0
    conv_kernel: int = 0
    ssm_elements: int = 0


def _conv_geometry(spec: ModelSpec) -> dict[int, tuple[int, int]]:
    """``{layer: (channels, kernel)}`` from each layer's depthwise conv weight ``[channels, 1, kernel]``."""
    out: dict[int, tuple[int, int]] = {}
    for t in spec.tensors:
        if t.role is Role.SSM_CONV and len(t.shape) == 3:
            for layer in t.layers:
                out[layer] = (t.shape[0], t.shape[2])
    return out


def layer_geometry(spec: ModelSpec) -> tuple[LayerGeometry, ...]:
    """The cache geometry of every layer of ``spec``."""
    convs = _conv_geometry(spec)
    out = []
    for layer in spec.layers:
        out.append(_geometry(layer, convs.get(layer.index)))
    return tuple(out)


def _geometry(layer: LayerSpec, conv: tuple[int, int] | None) -> LayerGeometry:
    kind = layer.attention
    if kind in (AttentionKind.FULL, AttentionKind.SLIDING):
        return LayerGeometry(
            layer.index,
            kind,
            window=layer.window if kind is AttentionKind.SLIDING else None,
            k_elements=layer.kv_heads * layer.k_head_dim,
            v_elements=layer.kv_heads * layer.v_head_dim,
            k_head_dim=layer.k_head_dim,
            v_head_dim=layer.v_head_dim,
        )
    if kind is AttentionKind.MLA:
        return LayerGeometry(layer.index, kind, latent=layer.latent_dim, k_head_dim=layer.latent_dim)
    if kind is AttentionKind.LINEAR:
        channels, kernel = conv or (0, 0)
        conv_elements = channels * kernel
        if conv_elements > layer.state_elements:  # a geometry we cannot split: treat it all as state
            channels, kernel, conv_elements = 0, 0, 0
        return LayerGeometry(
            layer.index,
            kind,
            conv_channels=channels,
            conv_kernel=kernel,
            ssm_elements=layer.state_elements - conv_elements,
        )
    return LayerGeometry(layer.index, kind)


# ---------------------------------------------------------------------------------------------
# one layer as an engine allocates it
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LayerCache:
    """One layer's cache as an engine allocates it, for all sequences.

    ``cells`` is the token slots per sequence (0 for linear layers); ``k_bytes``,
    ``v_bytes`` and ``state_bytes`` are totals over all sequences.
    """

    index: int
    kind: AttentionKind
    cells: int
    k_bytes: int
    v_bytes: int
    state_bytes: int = 0
    padding_bytes: int = 0  # vLLM: memory charged to padding layers of this layer's group

    @property
    def bytes(self) -> int:
        """Every byte this layer holds (K + V + recurrent state + group padding)."""
        return self.k_bytes + self.v_bytes + self.state_bytes + self.padding_bytes


PART_NAMES = {
    AttentionKind.FULL: "full",
    AttentionKind.SLIDING: "sliding",
    AttentionKind.MLA: "mla",
    AttentionKind.LINEAR: "linear",
    AttentionKind.NONE: "none",
}


def parts_by_kind(layers: Iterable[LayerCache]) -> dict[str, int]:
    """Bytes per attention kind (only the kinds present), plus vLLM group padding if any."""
    parts: dict[str, int] = {}
    padding = 0
    for layer in layers:
        if layer.kind is AttentionKind.NONE:
            continue
        name = PART_NAMES[layer.kind]
        parts[name] = parts.get(name, 0) + layer.k_bytes + layer.v_bytes + layer.state_bytes
        padding += layer.padding_bytes
    if padding:
        parts["group_padding"] = padding
    return parts


def fmt_bytes(n: int) -> str:
    """Bytes as a short MiB/GiB string (``512 MiB``, ``4.00 GiB``)."""
    if n >= GIB:
        return f"{n / GIB:.2f} GiB"
    if n >= MIB:
        return f"{n / MIB:.2f} MiB".replace(".00 MiB", " MiB")
    return f"{n:,} B"


def cache_figure(
    layers: Iterable[LayerCache],
    lines: list[str],
    *,
    keys: tuple[str, ...],
    source: str,
) -> Figure:
    """The exact KV figure for ``layers``: total, per-kind parts, and the rule lines joined."""
    layers = tuple(layers)
    parts = parts_by_kind(layers)
    total = sum(layer.bytes for layer in layers)
    rule = "; ".join(lines) if lines else "no per-token or recurrent cache"
    return Figure(total, f"{rule} = {fmt_bytes(total)}", keys=keys, source=source, parts=parts)


def _group_lines(layers: Iterable[LayerCache], describe) -> list[str]:
    """One rule line per run of identically sized layers, in first-seen order."""
    counts: Counter[tuple] = Counter()
    order: list[tuple] = []
    for layer in layers:
        if layer.kind is AttentionKind.NONE:
            continue
        key = describe(layer)
        if key not in counts:
            order.append(key)
        counts[key] += 1
    return [f"{counts[k]} {k[0]} layer{'s' if counts[k] > 1 else ''} x {k[1]}" for k in order]


# ---------------------------------------------------------------------------------------------
# transformers (DynamicCache, transformers 5.x)
# ---------------------------------------------------------------------------------------------


def transformers_cache(
    spec: ModelSpec, dtype: CacheType, context: int, batch: int
) -> tuple[tuple[LayerCache, ...], list[str]]:
    """``DynamicCache`` after ``context`` tokens for ``batch`` sequences, and its rule lines.

    # NOTE: transformers ``cache_utils.py`` (5.x): ``DynamicLayer`` concatenates every token;
    # ``DynamicSlidingWindowLayer.update`` keeps ``full_key_states[:, :, -sliding_window + 1:]``,
    # i.e. ``window - 1`` tokens; ``LinearAttentionLayer`` holds the conv state as
    # ``[batch, channels, conv_kernel]`` in the activation dtype and the recurrent state as the
    # kernel returns it (fp32: ``torch_chunk_*`` / ``mamba_chunk_scan`` upcast). DeepSeek-V3's
    # ``past_key_values.update(kv_nope, k_rot, ...)`` caches the latent, not the expanded heads.
    """
    el = dtype.block_bytes  # transformers caches plain dtypes only
    fp32 = CACHE_TYPES["fp32"].block_bytes
    out: list[LayerCache] = []
    for g in layer_geometry(spec):
        if g.kind is AttentionKind.FULL:
            cells = context
            out.append(
                LayerCache(
                    g.index,
                    g.kind,
                    cells,
                    batch * cells * g.k_elements * el,
                    batch * cells * g.v_elements * el,
                )
            )
        elif g.kind is AttentionKind.SLIDING:
            cells = min(context, max((g.window or context) - 1, 0))
            out.append(
                LayerCache(
                    g.index,
                    g.kind,
                    cells,
                    batch * cells * g.k_elements * el,
                    batch * cells * g.v_elements * el,
                )
            )
        elif g.kind is AttentionKind.MLA:
            out.append(LayerCache(g.index, g.kind, context, batch * context * g.latent * el, 0))
        elif g.kind is AttentionKind.LINEAR:
            conv = batch * g.conv_channels * g.conv_kernel * el
            ssm = batch * g.ssm_elements * fp32
            out.append(LayerCache(g.index, g.kind, 0, 0, 0, state_bytes=conv + ssm))
        else:
            out.append(LayerCache(g.index, g.kind, 0, 0, 0))
    geoms = {g.index: g for g in layer_geometry(spec)}

    def describe(layer: LayerCache) -> tuple:
        g = geoms[layer.index]
        if layer.kind is AttentionKind.LINEAR:
            return (
                "linear",
                f"{batch} seq x ({g.conv_channels} ch x {g.conv_kernel} conv cols x {el} B "
                f"+ {g.ssm_elements:,} state x 4 B fp32)",
            )
        if layer.kind is AttentionKind.MLA:
            return ("mla", f"{batch} seq x {layer.cells:,} tokens x {g.latent} latent x {el} B")
        label = "full" if layer.kind is AttentionKind.FULL else f"sliding(window {g.window}, keeps window-1)"
        return (
            label,
            f"{batch} seq x {layer.cells:,} tokens x ({g.k_elements} K + {g.v_elements} V) x {el} B",
        )

    return tuple(out), _group_lines(out, describe)


def transformers_sliding_retention(spec: ModelSpec, dtype: CacheType, context: int, batch: int) -> int:
    """Bytes a sliding layer's prefill still pins after the forward: all ``context`` tokens.

    # NOTE: ``DynamicSlidingWindowLayer.update`` stores ``full_key_states[:, :, -window + 1:]``,
    # a *view* of the ``torch.cat`` result, so the storage of the whole prompt stays alive until
    # the next decode step replaces it (checked on CPU: ``untyped_storage().nbytes()``).
    """
    el = dtype.block_bytes
    extra = 0
    for g in layer_geometry(spec):
        if g.kind is AttentionKind.SLIDING:
            kept = min(context, max((g.window or context) - 1, 0))
            extra += batch * (context - kept) * (g.k_elements + g.v_elements) * el
    return extra


# ---------------------------------------------------------------------------------------------
# llama.cpp (llama_kv_cache / llama_kv_cache_iswa / llama_memory_recurrent)
# ---------------------------------------------------------------------------------------------

LLAMACPP_CTX_PAD = 256  # llama-context.cpp: cparams.n_ctx = GGML_PAD(cparams.n_ctx, 256)
LLAMACPP_SWA_PAD = 256  # llama-kv-cache-iswa.cpp: "the SWA cache is always padded to 256"


def pad(n: int, multiple: int) -> int:
    """``n`` rounded up to a multiple of ``multiple`` (ggml ``GGML_PAD``)."""
    return -(-n // multiple) * multiple


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
    """llama.cpp's cache for ``batch`` streams of ``context`` tokens, and its rule lines.

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
    out: list[LayerCache] = []
    swa_seen: dict[int, int] = {}
    for g in layer_geometry(spec):
        if g.kind in (AttentionKind.FULL, AttentionKind.SLIDING):
            if g.kind is AttentionKind.SLIDING and not swa_full:
                n = llamacpp_swa_cells(g.window or context, context, ubatch)
                swa_seen[g.index] = n
            else:
                n = cells
            k_row = _head_rows(k_type, g.k_elements, g.k_head_dim, "K")
            v_row = _head_rows(v_type, g.v_elements, g.v_head_dim, "V")
            out.append(LayerCache(g.index, g.kind, n, batch * n * k_row, batch * n * v_row))
        elif g.kind is AttentionKind.MLA:
            k_row = _head_rows(k_type, g.latent, g.latent, "K (MLA latent)")
            out.append(LayerCache(g.index, g.kind, cells, batch * cells * k_row, 0))
        elif g.kind is AttentionKind.LINEAR:
            r = g.conv_channels * max(g.conv_kernel - 1, 0)
            s = g.ssm_elements
            out.append(LayerCache(g.index, g.kind, 0, 0, 0, state_bytes=max(batch, 1) * (r + s) * f32))
        else:
            out.append(LayerCache(g.index, g.kind, 0, 0, 0))
    geoms = {g.index: g for g in layer_geometry(spec)}
    kb, vb = k_type.bytes_per_element, v_type.bytes_per_element

    def describe(layer: LayerCache) -> tuple:
        g = geoms[layer.index]
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

    lines = _group_lines(out, describe)
    if swa_seen:
        n = next(iter(swa_seen.values()))
        lines.append(f"swa cells = pad(min(pad(ctx,256), window + n_ubatch {ubatch}), 256) = {n}")
    return tuple(out), lines


def _head_rows(t: CacheType, row: int, head_dim: int, what: str) -> int:
    """Bytes of one cell's row; block types need whole blocks per head (llama.cpp views per head)."""
    if t.quantized and head_dim % t.block_elements:
        raise SettingsError(
            f"llama.cpp cannot store {what} in {t.name}: the head dimension {head_dim} is not a multiple "
            f"of its block of {t.block_elements}; use f16, bf16, f32 or another head-compatible type"
        )
    return t.row_bytes(row)


# ---------------------------------------------------------------------------------------------
# vLLM (v1 KV cache specs, paged in blocks)
# ---------------------------------------------------------------------------------------------

VLLM_BLOCK_SIZE = 16  # CacheConfig.block_size default on CUDA


def cdiv(a: int, b: int) -> int:
    """Ceiling division (vLLM ``cdiv``)."""
    return -(-a // b)


@dataclass(frozen=True, slots=True)
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
        if g.kind is AttentionKind.LINEAR
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

    lines = _group_lines(out, describe)
    if mamba_pages and attn_per_token:
        lines.append(f"attention block raised to {attn_block} tokens so one page holds a Mamba state")
    if group_size and any(padded[k] != counts[k] for k in counts):
        pads = ", ".join(f"{padded[k] - counts[k]} {k}" for k in counts if padded[k] != counts[k])
        lines.append(f"hybrid KV groups of {group_size} layers add padding layers ({pads})")
    return tuple(out), lines, layout
