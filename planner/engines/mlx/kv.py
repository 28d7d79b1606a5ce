"""mlx-lm's prompt cache (``mlx_lm/models/cache.py`` at mlx-lm v0.31.3), exactly.

* ``KVCache``: per layer, keys ``[B, kv_heads, n, k_head_dim]`` and values ``[.., v_head_dim]`` in
  the activation dtype, grown in ``step = 256`` tokens (``n_steps = (step + S - 1) // step``):
  ``pad(tokens, 256)`` slots.
* ``RotatingKVCache(max_size=sliding_window)`` for the sliding layers of the architectures whose
  ``make_cache`` builds one (gemma3, gpt_oss, cohere2, ...; gemma2, phi3 and mistral keep full
  caches and mask instead): ``min(pad(tokens, 256), window)`` slots once decoding (``_update_in_place``
  trims to ``max_size``); a prefill chunk briefly holds ``window + chunk - 1`` (``_update_concat``:
  "The largest size is self.max_size + S - 1").
* ``QuantizedKVCache`` (``--kv-bits``, ``--kv-group-size`` 64): ``mx.quantize`` of each row: codes
  of ``bits`` plus a scale and a bias per group in the activation dtype; a ``KVCache`` is converted
  once it holds ``--quantized-kv-start`` tokens (mlx_lm.generate default 5000, generate_step 0).
  ``RotatingKVCache.to_quantized`` raises "RotatingKVCache Quantization NYI".
* recurrent layers (``ArraysCache``): the conv and SSM state, one per sequence, in the model dtype.
"""

from __future__ import annotations

from planner.engines.shape import model_shape
from planner.memory.estimate import SettingsError
from planner.memory.kv import CacheType, LayerCache, LayerGeometry, group_lines, layer_geometry, pad
from planner.model.spec import AttentionKind, ModelSpec

VERSION = "v0.31.3"
SOURCE = (
    f"ml-explore/mlx-lm {VERSION} mlx_lm/models/cache.py (KVCache step 256, RotatingKVCache max_size, "
    "QuantizedKVCache group_size/bits, make_prompt_cache), mlx_lm/generate.py (maybe_quantize_kv_cache, "
    "--kv-bits, --kv-group-size 64, --quantized-kv-start 5000, prefill_step_size 2048)"
)
STEP = 256
PREFILL_STEP = 2048
KV_GROUP = 64
DEFAULT_QUANTIZED_KV_START = 5000
#: mlx-lm architectures whose make_cache gives sliding layers a RotatingKVCache (models/<arch>.py, v0.31.3).
ROTATING = frozenset(
    {
        "gemma3",
        "gemma3_text",
        "gemma3n",
        "gemma4",
        "gemma4_text",
        "gpt_oss",
        "cohere2",
        "exaone4",
        "exaone_moe",
        "olmo3",
        "ministral3",
        "mimo_v2_flash",
        "afmoe",
        "baichuan_m1",
        "step3p5",
        "llama",
    }
)
#: mlx-lm architectures whose MLA attention caches expanded per-head K/V (models/deepseek_v2.py).
EXPANDED_MLA = frozenset({"deepseek_v2"})
#: mlx-lm architectures whose make_cache gives each layer a ``CacheList`` (v0.31.3: DSA's latent and indexer
#: caches, Falcon-H1's Mamba and attention caches): CacheList defines no ``to_quantized``, so
#: ``maybe_quantize_kv_cache`` leaves their cache in the activation dtype whatever ``--kv-bits`` says.
CACHE_LIST = frozenset(
    {"deepseek_v32", "glm_moe_dsa", "falcon_h1", "baichuan_m1", "longcat_flash", "longcat_flash_ngram"}
)
#: ``--kv-bits`` choices (mx.quantize affine bits) by this planner's cache type name.
KV_BITS = {"q8": 8, "q6": 6, "q5": 5, "q4": 4, "q3": 3, "q2": 2}


def quantized_type(bits: int, dtype_bytes: int = 2) -> CacheType:
    """A ``QuantizedKVCache`` element: ``bits`` per value plus a scale and a bias per 64 values."""
    return CacheType(f"mlx-q{bits}", KV_GROUP * bits // 8 + 2 * dtype_bytes, KV_GROUP)


def rotates(spec: ModelSpec) -> bool:
    """Whether mlx-lm gives this architecture's sliding layers a RotatingKVCache."""
    return spec.architecture in ROTATING and any(
        layer.attention is AttentionKind.SLIDING for layer in spec.layers
    )


def mlx_cache(
    spec: ModelSpec, k_type: CacheType, context: int, batch: int
) -> tuple[tuple[LayerCache, ...], list[str]]:
    """mlx-lm's cache for ``batch`` sequences of ``context`` tokens, and its rule lines."""
    cells = pad(context, STEP)
    rotating = rotates(spec)
    out: list[LayerCache] = []
    geoms = {g.index: g for g in layer_geometry(spec)}
    for g in geoms.values():
        if g.kind in (AttentionKind.FULL, AttentionKind.SLIDING, AttentionKind.MLA):
            n = min(cells, g.window or cells) if g.kind is AttentionKind.SLIDING and rotating else cells
            if g.kind is AttentionKind.MLA:
                # NOTE: mlx-lm's deepseek_v3 caches the normed latent (as keys) and the rope key (as
                # values): kv_lora_rank + rope per token; deepseek_v2 caches expanded per-head K and V.
                width = model_shape(spec).mla_expand if spec.architecture in EXPANDED_MLA else g.latent
                k_row = k_type.row_bytes(width) if not k_type.quantized else _row(k_type, width, KV_GROUP)
                # NOTE: deepseek_v32 (glm_moe_dsa) adds a second KVCache per layer for the DSA indexer:
                # keys [B, 1, slots, index_head_dim] in the activation dtype, values of width 0.
                k_row += g.indexer * k_type.bytes_per_element if g.indexer else 0
                out.append(LayerCache(g.index, g.kind, n, batch * n * k_row, 0))
                continue
            k_row = _row(k_type, g.k_elements, g.k_head_dim)
            v_row = _row(k_type, g.v_elements, g.v_head_dim)
            # NOTE: a parallel hybrid layer (Falcon-H1: CacheList of a MambaCache and a KVCache) keeps
            # its conv and SSM state beside the K/V, one per sequence in the model dtype.
            state = _state_bytes(g, batch) if g.has_state else 0
            out.append(
                LayerCache(g.index, g.kind, n, batch * n * k_row, batch * n * v_row, state_bytes=state)
            )
        elif g.kind is AttentionKind.LINEAR:
            out.append(LayerCache(g.index, g.kind, 0, 0, 0, state_bytes=_state_bytes(g, batch)))
        else:
            out.append(LayerCache(g.index, g.kind, 0, 0, 0))

    def describe(layer: LayerCache) -> tuple:
        g = geoms[layer.index]
        if layer.kind is AttentionKind.LINEAR:
            return ("recurrent", f"{batch} seq x (conv + SSM state) in the model dtype")
        if layer.kind is AttentionKind.MLA:
            what = "expanded K+V" if spec.architecture in EXPANDED_MLA else f"{g.latent} latent + rope"
            what += f" + {g.indexer} indexer key" if g.indexer else ""
            return ("mla", f"{batch} seq x {layer.cells:,} slots x {what} x {k_type.bytes_per_element:g} B")
        label = "full" if layer.kind is AttentionKind.FULL or not rotating else f"rotating(window {g.window})"
        hybrid = f" + {batch} seq x (conv + SSM state)" if g.has_state else ""
        return (
            label + (" + mamba" if g.has_state else ""),
            f"{batch} seq x {layer.cells:,} slots x ({g.k_elements} K + {g.v_elements} V) x "
            f"{k_type.bytes_per_element:g} B {k_type.name}{hybrid}",
        )

    lines = group_lines(out, describe)
    lines.append(f"slots = pad({context:,}, {STEP}) = {cells:,} (KVCache.step)")
    return tuple(out), lines


def _state_bytes(g: LayerGeometry, batch: int) -> int:
    """``ArraysCache``: the conv window (kernel - 1 columns) and the SSM state per sequence, 2-byte dtype."""
    return max(batch, 1) * (g.conv_channels * max(g.conv_kernel - 1, 0) + g.ssm_elements) * 2


def _row(t: CacheType, elements: int, head_dim: int) -> int:
    if t.quantized and head_dim % t.block_elements:
        raise SettingsError(
            f"mlx-lm quantizes each cache row per head in groups of {t.block_elements}; the head dimension "
            f"{head_dim} is not a multiple of it (--kv-group-size)"
        )
    return t.row_bytes(elements)


def prefill_overhang(spec: ModelSpec, k_type: CacheType, context: int, batch: int) -> int:
    """Extra bytes a rotating cache holds during a prefill chunk: ``min(chunk - 1, tokens past the window)``."""
    if not rotates(spec):
        return 0
    extra = 0
    for g in layer_geometry(spec):
        if g.kind is AttentionKind.SLIDING and g.window and context > g.window:
            over = min(PREFILL_STEP - 1, context - g.window)
            extra += batch * over * (k_type.row_bytes(g.k_elements) + k_type.row_bytes(g.v_elements))
    return extra


__all__ = [
    "DEFAULT_QUANTIZED_KV_START",
    "KV_BITS",
    "PREFILL_STEP",
    "ROTATING",
    "SOURCE",
    "STEP",
    "VERSION",
    "mlx_cache",
    "prefill_overhang",
    "quantized_type",
    "rotates",
]
