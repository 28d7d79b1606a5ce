"""Memory against context length: one curve per format and KV type, its max-context mark, and what shapes it.

A :class:`ContextCurve` is the engine's GPU total at a grid of context lengths (powers of two up to
the model's ``max_position_embeddings``) plus the exact max-context boundary from
:func:`~planner.fit.solvers.max_context`. :func:`cache_shapes` says, per attention kind, how the KV
cache grows with each token (full and MLA layers without end, sliding layers up to their window,
linear/SSM layers not at all), and :func:`context_explanation` puts that into sentences for the
chosen model; both read the :class:`~planner.model.spec.ModelSpec`'s layers, never the model's name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from planner.engines import estimate as engine_estimate
from planner.engines.constants import default
from planner.engines.llamacpp.kv import LLAMACPP_CTX_PAD
from planner.fit.budget import Budget, charged_bytes
from planner.fit.solvers import Limit, _resolve, max_context
from planner.formats import QuantFormat
from planner.frozen import record
from planner.hardware.units import format_size
from planner.memory import kv
from planner.memory.estimate import MAX_CONTEXT, MemoryEstimate, RunSettings, SettingsError
from planner.model.spec import AttentionKind, ModelSpec

#: The smallest context on a curve (tokens).
GRID_START = 512
#: Growth outside the KV cache below this is not worth a sentence (bytes).
NOTABLE_GROWTH = 256 << 20
#: Bytes per element of a 16-bit cache, the baseline KV quantization is compared with.
BASELINE_16BIT = kv.CACHE_TYPES["fp16"]

_KIND_WORDS = {
    AttentionKind.FULL: "full-attention",
    AttentionKind.SLIDING: "sliding-window",
    AttentionKind.MLA: "multi-head latent attention (MLA)",
    AttentionKind.LINEAR: "linear-attention / state-space",
}


def context_grid(cap: int, start: int = GRID_START) -> tuple[int, ...]:
    """Contexts for a curve: powers of two from ``start`` below ``cap``, then ``cap`` itself.

    >>> context_grid(5000)
    (512, 1024, 2048, 4096, 5000)
    """
    if not 1 <= cap <= MAX_CONTEXT:
        raise SettingsError(f"a context grid ends between 1 and {MAX_CONTEXT:,} tokens, not {cap:,}")
    points: list[int] = []
    n = start
    while n < cap:
        points.append(n)
        n *= 2
    points.append(cap)
    return tuple(points)


@record
class ContextCurve:
    """One format and KV type on one engine: GPU memory at each context, and the largest context that fits.

    ``points`` and ``kv_points`` are ``(context, bytes)`` pairs: the estimate's GPU total and its KV
    cache part. The max-context boundary (``limit.value``) is one of the points when memory, not
    the model, decides it. ``estimate`` is the estimate at the plan's own context.
    """

    format_id: str
    engine: str
    kv_dtype: str
    points: tuple[tuple[int, int], ...]
    kv_points: tuple[tuple[int, int], ...]
    limit: Limit
    estimate: MemoryEstimate

    @property
    def label(self) -> str:
        """``q4_k_m · llama.cpp · KV q8_0``."""
        return f"{self.format_id} · {self.engine} · KV {self.kv_dtype}"

    @property
    def max_context(self) -> int | None:
        """The largest context that fits (``None``: not even one token)."""
        return self.limit.value

    @property
    def limit_total_bytes(self) -> int:
        """The GPU total at which this curve stops fitting: the engine's usable memory plus what it leaves uncharged.

        llama.cpp keeps ``--fit-target`` free, vLLM pools ``gpu_memory_utilization`` of the memory with its
        CUDA context outside the pool (:func:`~planner.fit.budget.charged_bytes`), transformers keeps no margin.
        On several GPUs the fit is decided per device, so a curve can stop before this summed line.
        """
        fit = self.limit.fit
        return fit.allowance.total_usable_bytes + fit.estimate.total - charged_bytes(fit.estimate)


def context_curve(
    spec: ModelSpec,
    fmt: QuantFormat,
    engine: str | None,
    settings: RunSettings | None,
    budget: Budget,
    contexts: Sequence[int] | None = None,
) -> ContextCurve:
    """GPU memory of ``spec`` in ``fmt`` on ``engine`` at each context, and the max context on ``budget``.

    ``contexts`` defaults to :func:`context_grid` up to the model's ``max_position_embeddings``
    (the cap :func:`~planner.fit.solvers.max_context` searches to). Raises
    :class:`~planner.memory.estimate.SettingsError` when the engine refuses the format or KV type.
    """
    chosen, engine_id = _resolve(fmt, engine)
    base = settings or RunSettings()
    here = engine_estimate(spec, chosen, engine_id, base)  # raises for a refused format or KV type first
    limit = max_context(spec, chosen, engine_id, base, budget)
    grid = set(contexts if contexts is not None else context_grid(limit.cap))
    if limit.value is not None:
        grid.add(limit.value)
    points, kv_points = [], []
    for context in sorted(grid):
        est = engine_estimate(spec, chosen, engine_id, replace(base, context=context))
        points.append((context, est.total))
        kv_points.append((context, est.kv_cache.bytes))
    return ContextCurve(chosen.id, engine_id, here.kv_dtype, tuple(points), tuple(kv_points), limit, here)


# ---------------------------------------------------------------------------------------------
# what shapes the curve
# ---------------------------------------------------------------------------------------------


@record
class CacheShape:
    """How the layers of one attention kind cache, for one sequence.

    ``bytes_per_token``: what one more token adds over all these layers while they grow (full and MLA
    layers always, sliding layers until ``window`` tokens, linear layers never). ``fixed_bytes``:
    the state linear layers hold per sequence whatever the context. ``elements_per_token``: cache
    elements per token over all these layers (K + V, or the MLA latent).
    """

    kind: AttentionKind
    layers: int
    elements_per_token: int
    bytes_per_token: int
    window: int | None = None
    fixed_bytes: int = 0


def _cache_types(est: MemoryEstimate) -> tuple[kv.CacheType, kv.CacheType]:
    """K and V cache types of an estimate (its ``kv_dtype`` label is ``fp16`` or ``q8_0/q4_0``)."""
    names = est.kv_dtype.split("/")
    return kv.cache_type(names[0]), kv.cache_type(names[-1])


def cache_shapes(est: MemoryEstimate) -> tuple[CacheShape, ...]:
    """Per attention kind present in the model: layers, per-token growth at the estimate's cache types, fixed state.

    Per-token bytes are the engines' own row sizes (block types in whole blocks); the fixed state of
    linear layers is the engine's figure for the estimate divided by its batch.
    """
    k_type, v_type = _cache_types(est)
    geometry = kv.layer_geometry(est.model)
    out: list[CacheShape] = []
    for kind in (AttentionKind.FULL, AttentionKind.SLIDING, AttentionKind.MLA, AttentionKind.LINEAR):
        layers = [g for g in geometry if g.kind is kind]
        if not layers:
            continue
        if kind is AttentionKind.MLA:
            elements = sum(g.latent for g in layers)
            per_token = sum(k_type.row_bytes(g.latent) for g in layers)
        elif kind is AttentionKind.LINEAR:
            elements, per_token = 0, 0
        else:
            elements = sum(g.k_elements + g.v_elements for g in layers)
            per_token = sum(k_type.row_bytes(g.k_elements) + v_type.row_bytes(g.v_elements) for g in layers)
        windows = sorted({g.window for g in layers if g.window})
        fixed = (
            est.kv_cache.parts.get("linear", 0) // est.settings.batch if kind is AttentionKind.LINEAR else 0
        )
        out.append(
            CacheShape(
                kind,
                len(layers),
                elements,
                per_token,
                window=windows[-1] if kind is AttentionKind.SLIDING and windows else None,
                fixed_bytes=fixed,
            )
        )
    return tuple(out)


def _type_words(t: kv.CacheType) -> str:
    if t.quantized:
        return f"{t.name} ({t.block_bytes} B per {t.block_elements} elements, {t.bytes_per_element:g} B each)"
    return f"{t.name} ({t.block_bytes} B per element)"


def _layers(n: int) -> str:
    return f"{n} layer{'s' if n != 1 else ''}"


def context_explanation(spec: ModelSpec, estimates: Sequence[MemoryEstimate]) -> list[str]:
    """Plain sentences on what shapes the memory-against-context curves of ``spec`` for ``estimates``.

    One sentence per attention kind the model has (from its layers), one on KV quantization when the
    estimates' cache types differ from 16 bits or from each other, and one per engine's allocation step.
    """
    if not estimates:
        return []
    first = estimates[0]
    shapes = {s.kind: s for s in cache_shapes(first)}
    k0, _ = _cache_types(first)
    at = f"at {k0.name}, one sequence"
    total_layers = spec.num_layers
    lines: list[str] = []
    growing = sum(s.bytes_per_token for s in shapes.values() if s.kind is not AttentionKind.SLIDING)

    full = shapes.get(AttentionKind.FULL)
    if full:
        if full.layers == total_layers:
            lines.append(
                f"All {total_layers} layers use full attention: each token adds its keys and values to every "
                f"layer, {format_size(full.bytes_per_token)} per token ({full.elements_per_token:,} elements, {at}). "
                "Memory grows in a straight line with context; the KV cache is the slope, the weights the height "
                "where the line starts."
            )
        else:
            lines.append(
                f"{_layers(full.layers)} of {total_layers} use full attention and keep every token: "
                f"{format_size(full.bytes_per_token)} per token ({at})."
            )
    sliding = shapes.get(AttentionKind.SLIDING)
    if sliding:
        window = f"{sliding.window:,} tokens" if sliding.window else "its window"
        if sliding.layers == total_layers:
            lines.append(
                f"All {total_layers} layers use a sliding window of {window}: they add "
                f"{format_size(sliding.bytes_per_token)} per token ({at}) only until the context passes the "
                "window, then keep the most recent tokens and stop growing. The KV part of the curve flattens "
                "past the window."
            )
        else:
            after = format_size(growing) if growing else "nothing"
            lines.append(
                f"{_layers(sliding.layers)} of {total_layers} use a sliding window of {window}: they keep only "
                f"the most recent tokens, so past the window each token adds {after} instead of "
                f"{format_size(growing + sliding.bytes_per_token)} ({at}). The curve bends to a shallower slope "
                "after the window."
            )
    mla = shapes.get(AttentionKind.MLA)
    if mla:
        latent = mla.elements_per_token // mla.layers
        words = (
            f"All {total_layers} layers use"
            if mla.layers == total_layers
            else f"{_layers(mla.layers)} of {total_layers} use"
        )
        lines.append(
            f"{words} multi-head latent attention (MLA): each token stores one compressed latent of "
            f"{latent:,} elements per layer instead of a key and a value for every head, "
            f"{format_size(mla.bytes_per_token)} per token ({at}). The line still grows with context, "
            "with a much smaller slope."
        )
        lines.extend(f"From the model's config: {note}" for note in spec.notes if "MLA" in note)
    linear = shapes.get(AttentionKind.LINEAR)
    if linear:
        if linear.layers == total_layers:
            lines.append(
                f"All {total_layers} layers are linear-attention / state-space layers: each sequence holds a "
                f"fixed state of {format_size(linear.fixed_bytes)} whatever the context. The cache adds a "
                "constant, not a slope: the curve stays flat apart from the buffers that grow with the prompt."
            )
        else:
            lines.append(
                f"{_layers(linear.layers)} of {total_layers} are linear-attention / state-space layers: each "
                f"sequence holds a fixed state of {format_size(linear.fixed_bytes)} there whatever the context, "
                f"so only the other {_layers(total_layers - linear.layers)} grow with it."
            )

    types = list(dict.fromkeys(_cache_types(e) for e in estimates))
    quantized = [
        pair for pair in types if any(t.bytes_per_element != BASELINE_16BIT.bytes_per_element for t in pair)
    ]
    if len(types) > 1 or quantized:
        parts = []
        for k_type, v_type in types:
            chosen = next(e for e in estimates if _cache_types(e) == (k_type, v_type))
            rate = sum(s.bytes_per_token for s in cache_shapes(chosen))
            share = (k_type.bytes_per_element + v_type.bytes_per_element) / (
                2 * BASELINE_16BIT.bytes_per_element
            )
            name = (
                _type_words(k_type)
                if k_type == v_type
                else f"K {_type_words(k_type)}, V {_type_words(v_type)}"
            )
            parts.append(f"{name}: {format_size(rate)} per token, {share:.0%} of a 16-bit cache")
        lines.append(
            "KV cache types compared: "
            + "; ".join(parts)
            + ". A smaller cache type lowers only the slope (the KV part); weights, activations and overhead "
            "stay where they are."
        )

    engines = list(dict.fromkeys(e.engine for e in estimates))
    steps = {
        "llama.cpp": f"llama.cpp rounds the context up to whole {LLAMACPP_CTX_PAD}-token steps, so its "
        "curve rises in small stairs.",
        "ollama": f"Ollama runs llama-server, which rounds the context up to whole {LLAMACPP_CTX_PAD}-token steps.",
        "mlx": "mlx-lm grows its cache in 256-token steps (KVCache.step), so its curve rises in small stairs.",
        "vllm": f"vLLM stores the cache in {int(default('vllm', 'block_size'))}-token blocks and reserves its whole pool "
        "(gpu_memory_utilization) at start-up; its curve is what requests of that length occupy inside the pool.",
    }
    lines.extend(steps[e] for e in engines if e in steps)
    return lines


def growth_notes(curves: Sequence[ContextCurve]) -> list[str]:
    """One sentence per curve whose memory grows more outside the KV cache than in it, with both amounts.

    Over the curve's whole range (first to last point); growth under :data:`NOTABLE_GROWTH` is left out.
    """
    lines = []
    for c in curves:
        (first, low), (last, high) = c.points[0], c.points[-1]
        kv_growth = c.kv_points[-1][1] - c.kv_points[0][1]
        other = high - low - kv_growth
        if other <= kv_growth or other < NOTABLE_GROWTH:
            continue
        why = (
            " transformers runs the whole prompt in one forward pass, so its activations grow with the context"
            if c.engine == "transformers"
            else ""
        )
        lines.append(
            f"{c.label}: from {first:,} to {last:,} tokens the KV cache grows by {format_size(kv_growth)} and the "
            f"rest by {format_size(other)}. Most of this slope is the engine's working memory for the prompt "
            f"(activations), not the cache.{why}"
        )
    return lines


__all__ = [
    "GRID_START",
    "NOTABLE_GROWTH",
    "CacheShape",
    "ContextCurve",
    "cache_shapes",
    "context_curve",
    "context_explanation",
    "context_grid",
    "growth_notes",
]
