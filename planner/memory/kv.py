"""The engine-neutral KV cache pieces: cache types, per-layer cache geometry, the cache figure.

Everything here is exact arithmetic: element counts from the :class:`ModelSpec` and the byte
size of each cache type (block types at their true block sizes). How many token slots an
engine allocates per layer, and which cache types it accepts, is that engine's own rule, in
``planner/engines/<engine>/kv.py`` (transformers' ``DynamicCache``, llama.cpp's padded cells,
vLLM's pages and hybrid groups). Each engine builds one :class:`LayerCache` per layer and turns
the tuple into a :class:`Figure` with :func:`cache_figure`; ``Figure.parts`` holds the bytes per
attention kind.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import fields, replace
from functools import lru_cache, partial
from operator import attrgetter

from planner.frozen import record
from planner.hardware.units import format_short
from planner.memo import per_object
from planner.memory.estimate import SettingsError
from planner.memory.figure import Figure
from planner.model.spec import AttentionKind, LayerSpec, ModelSpec, Role

# ---------------------------------------------------------------------------------------------
# cache element types
# ---------------------------------------------------------------------------------------------


@record
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


@lru_cache(maxsize=256)
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


@record
class LayerGeometry:
    """What one layer caches, read from the spec.

    Per token: ``k_elements`` and ``v_elements`` (all KV heads), or ``latent`` for MLA (plus
    ``indexer`` keys for a DSA indexer). Per sequence (linear layers, and the Mamba half of a
    parallel hybrid layer): a depthwise conv window of ``conv_kernel`` columns of
    ``conv_channels`` and ``ssm_elements`` of recurrent state (fp32 in transformers unless
    ``state_model_dtype``).
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
    indexer: int = 0
    state_model_dtype: bool = False

    @property
    def has_state(self) -> bool:
        """True when the layer keeps a per-sequence recurrent state (linear or hybrid layers)."""
        return bool(self.conv_channels * self.conv_kernel or self.ssm_elements)


def _conv_geometry(spec: ModelSpec) -> dict[int, tuple[int, int]]:
    """``{layer: (channels, kernel)}`` from each layer's depthwise conv weights ``[channels, 1, kernel]``.

    # NOTE: Kimi Delta Attention convolves q, k and v with three separate convs (transformers
    # ``KimiDeltaAttention`` q_conv1d/k_conv1d/v_conv1d) and caches their windows side by side: the
    # channels of a layer's convs add up.
    """
    out: dict[int, tuple[int, int]] = {}
    for t in spec.tensors:
        if t.role is Role.SSM_CONV and len(t.shape) == 3:
            for layer in t.layers:
                channels, _ = out.get(layer, (0, 0))
                out[layer] = (channels + t.shape[0], t.shape[2])
    return out


@per_object()
def layer_geometry(spec: ModelSpec) -> tuple[LayerGeometry, ...]:
    """The cache geometry of every layer of ``spec``."""
    convs = _conv_geometry(spec)
    out = []
    for layer in spec.layers:
        out.append(_geometry(layer, convs.get(layer.index)))
    return tuple(out)


def _state(layer: LayerSpec, conv: tuple[int, int] | None) -> dict[str, int | bool]:
    """Split a layer's per-sequence state into its conv window and the rest (the recurrent state)."""
    if not layer.state_elements:
        return {}
    channels, kernel = conv or (0, 0)
    conv_elements = channels * kernel
    if conv_elements > layer.state_elements:  # a geometry we cannot split: treat it all as state
        channels, kernel, conv_elements = 0, 0, 0
    return {
        "conv_channels": channels,
        "conv_kernel": kernel,
        "ssm_elements": layer.state_elements - conv_elements,
        "state_model_dtype": layer.state_in_model_dtype,
    }


@record
class GeometryRun:
    """Layers that cache alike: the ``geometry`` of the first and the ``indices`` of all of them."""

    geometry: LayerGeometry
    indices: tuple[int, ...]


@per_object()
def geometry_runs(spec: ModelSpec) -> tuple[GeometryRun, ...]:
    """:func:`layer_geometry` with identical layers merged, ordered by each run's first layer.

    Engines size a layer from its geometry alone, so they compute one run instead of every layer.
    """
    runs: dict[tuple, list[int]] = {}
    first: dict[tuple, LayerGeometry] = {}
    for g in layer_geometry(spec):
        key = _all_but_index(g)
        if key not in runs:
            runs[key], first[key] = [], g
        runs[key].append(g.index)
    return tuple(GeometryRun(first[key], tuple(indices)) for key, indices in runs.items())


#: A geometry's fields but its layer index (what makes two layers cache alike).
_all_but_index = attrgetter(*(f.name for f in fields(LayerGeometry) if f.name != "index"))


@per_object()
def attention_kinds(spec: ModelSpec) -> frozenset[AttentionKind]:
    """The attention kinds ``spec``'s layers use."""
    return frozenset(layer.attention for layer in spec.layers)


@per_object()
def sliding_windows(spec: ModelSpec) -> tuple[int, ...]:
    """The windows of ``spec``'s sliding layers, in layer order (empty without sliding layers)."""
    return tuple(
        layer.window
        for layer in spec.layers
        if layer.attention is AttentionKind.SLIDING and layer.window is not None
    )


def _geometry(layer: LayerSpec, conv: tuple[int, int] | None) -> LayerGeometry:
    kind = layer.attention
    if kind in (AttentionKind.FULL, AttentionKind.SLIDING):
        # NOTE: a parallel hybrid layer (Falcon-H1) is FULL with a Mamba state as well.
        return LayerGeometry(
            layer.index,
            kind,
            window=layer.window if kind is AttentionKind.SLIDING else None,
            k_elements=layer.kv_heads * layer.k_head_dim,
            v_elements=layer.kv_heads * layer.v_head_dim,
            k_head_dim=layer.k_head_dim,
            v_head_dim=layer.v_head_dim,
            **_state(layer, conv),
        )
    if kind is AttentionKind.MLA:
        return LayerGeometry(
            layer.index, kind, latent=layer.latent_dim, k_head_dim=layer.latent_dim, indexer=layer.indexer_dim
        )
    if kind is AttentionKind.LINEAR:
        return LayerGeometry(layer.index, kind, **_state(layer, conv))
    return LayerGeometry(layer.index, kind)


# ---------------------------------------------------------------------------------------------
# one layer as an engine allocates it
# ---------------------------------------------------------------------------------------------


@record
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


@record
class CacheRun:
    """Layers an engine allocates alike: one layer's ``cells`` and bytes (all sequences), and the layers.

    ``geometry`` is the run's :class:`LayerGeometry` (rule lines read it); :func:`expand` gives
    the :class:`LayerCache` of every layer.
    """

    kind: AttentionKind
    cells: int
    k_bytes: int
    v_bytes: int
    geometry: LayerGeometry
    indices: tuple[int, ...]
    state_bytes: int = 0
    padding_bytes: int = 0

    @property
    def count(self) -> int:
        """Layers in the run."""
        return len(self.indices)

    @property
    def layer_bytes(self) -> int:
        """Every byte one layer of the run holds."""
        return self.k_bytes + self.v_bytes + self.state_bytes + self.padding_bytes

    def only(self, indices: tuple[int, ...]) -> CacheRun:
        """The same run restricted to ``indices``."""
        return replace(self, indices=indices)


def expand(runs: Iterable[CacheRun]) -> tuple[LayerCache, ...]:
    """One :class:`LayerCache` per layer of ``runs``, in layer order."""
    layers = [
        LayerCache(i, r.kind, r.cells, r.k_bytes, r.v_bytes, r.state_bytes, r.padding_bytes)
        for r in runs
        for i in r.indices
    ]
    return tuple(sorted(layers, key=lambda layer: layer.index))


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
    return Figure(total, f"{rule} = {format_short(total)}", keys=keys, source=source, parts=parts)


def runs_figure(
    runs: Iterable[CacheRun],
    lines: list[str] | Callable[[], list[str]],
    *,
    keys: tuple[str, ...],
    source: str,
) -> Figure:
    """:func:`cache_figure` of the layers of ``runs`` (runs in order of their first layer).

    ``lines`` may be a function giving them: the rule text is then made on first read.
    """
    parts: dict[str, int] = {}
    padding = total = 0
    for r in runs:
        total += r.layer_bytes * r.count
        if r.kind is AttentionKind.NONE:
            continue
        name = PART_NAMES[r.kind]
        parts[name] = parts.get(name, 0) + (r.k_bytes + r.v_bytes + r.state_bytes) * r.count
        padding += r.padding_bytes * r.count
    if padding:
        parts["group_padding"] = padding

    return Figure(total, partial(_runs_rule, lines, total), keys=keys, source=source, parts=parts)


def _runs_rule(lines: list[str] | Callable[[], list[str]], total: int) -> str:
    """:func:`runs_figure`'s rule text (made on first read)."""
    text = lines() if callable(lines) else lines
    joined = "; ".join(text) if text else "no per-token or recurrent cache"
    return f"{joined} = {format_short(total)}"


def run_lines(runs: Iterable[CacheRun], describe) -> list[str]:
    """:func:`group_lines` over the layers of ``runs``: ``describe(run)`` once per run."""
    counts: Counter[tuple] = Counter()
    order: list[tuple] = []
    for r in runs:
        if r.kind is AttentionKind.NONE:
            continue
        key = describe(r)
        if key not in counts:
            order.append(key)
        counts[key] += r.count
    return [f"{counts[k]} {k[0]} layer{'s' if counts[k] > 1 else ''} x {k[1]}" for k in order]


def group_lines(layers: Iterable[LayerCache], describe) -> list[str]:
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


def pad(n: int, multiple: int) -> int:
    """``n`` rounded up to a multiple of ``multiple`` (ggml ``GGML_PAD``)."""
    return -(-n // multiple) * multiple


def cdiv(a: int, b: int) -> int:
    """Ceiling division (vLLM ``cdiv``)."""
    return -(-a // b)


# ---------------------------------------------------------------------------------------------
# token pools (SGLang: one token per page; TensorRT-LLM: tokens_per_block)
# ---------------------------------------------------------------------------------------------


def token_pool_cache(
    spec: ModelSpec, dtype: CacheType, cells: int, batch: int, block: int
) -> tuple[tuple[LayerCache, ...], list[str]]:
    """``batch`` requests of ``cells`` tokens in a pool of ``block``-token pages, every attention layer
    sized to the request (MLA: one latent; recurrent layers: one float32 state per request)."""
    cells = cdiv(cells, block) * block
    out = []
    b = dtype.bytes_per_element
    for layer in spec.layers:
        if layer.attention in (AttentionKind.FULL, AttentionKind.SLIDING):
            k = round(batch * cells * layer.kv_heads * layer.k_head_dim * b)
            v = round(batch * cells * layer.kv_heads * layer.v_head_dim * b)
            # NOTE: a parallel hybrid layer (Falcon-H1) holds a float32 Mamba state per request too.
            state = batch * layer.state_elements * 4
            out.append(LayerCache(layer.index, layer.attention, cells, k, v, state_bytes=state))
        elif layer.attention is AttentionKind.MLA:
            out.append(
                LayerCache(
                    layer.index, layer.attention, cells, round(batch * cells * layer.latent_dim * b), 0
                )
            )
        elif layer.attention is AttentionKind.LINEAR:
            out.append(
                LayerCache(
                    layer.index, layer.attention, 0, 0, 0, state_bytes=batch * layer.state_elements * 4
                )
            )
        else:
            out.append(LayerCache(layer.index, layer.attention, 0, 0, 0))
    # NOTE: the MLA pools size one latent per token; a DSA indexer's keys are not counted here.
    per = sum(layer.kv_elements_per_token - layer.indexer_dim for layer in spec.layers)
    lines = [
        f"{batch} request(s) x {cells:,} tokens ({block}-token pages) x {per:,} elements x {b:g} B ({dtype.name})"
    ]
    return tuple(out), lines
