"""How one memory estimate splits over several GPUs: tensor parallel (vLLM) or by layers (llama.cpp).

Both splits start from a single-GPU :class:`~planner.memory.estimate.MemoryEstimate` and only
redistribute its bytes: weights tensor group by tensor group (``WeightsReport``), the KV cache
layer by layer (the estimate's per-kind figure apportioned by each layer's cache width), the
activation and overhead figures per device. No memory arithmetic is redone here.

Tensor parallel (``vllm serve --tensor-parallel-size N``):

* sharded 1/N: q/o projections and the query part of fused qkv (``QKVParallelLinear``,
  ``RowParallelLinear``), MLP and expert weights (``MergedColumnParallelLinear``, ``FusedMoE``
  splits the expert intermediate size unless expert parallelism is on), MLA up-projections, Mamba
  mixers, and the vocabulary of the embedding and lm_head (``VocabParallelEmbedding``,
  ``ParallelLMHead``);
* K/V projections and the KV cache by KV head: ``if tp_size >= total_num_kv_heads: num_kv_heads = 1;
  num_kv_head_replicas = tp_size // total_num_kv_heads`` (vllm/model_executor/layers/linear.py
  ``QKVParallelLinear``), so with fewer KV heads than GPUs each GPU holds one whole head; an MLA
  latent is one head, replicated on every GPU;
* replicated on every GPU: norms, biases, routers, MLA down-projections (``ReplicatedLinear``),
  vision towers; the CUDA context and engine overhead (every worker is its own process).

Layer split (llama.cpp ``-sm layer``, the default with several GPUs): layer ``il`` of the
GPU-resident span goes to device ``upper_bound(splits, (il - i_gpu_start) / act_gpu_layers)``,
``splits`` being the cumulative, normalised free memory of each device (or ``--tensor-split``);
the output layer is slot ``n_layer`` (src/llama-model.cpp ``load_tensors``). Each GPU holds its
layers' weights and KV cache, its own compute buffer and CUDA context.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Sequence
from dataclasses import field
from typing import Any

from planner.engines.llamacpp.weights import first_gpu_layer
from planner.engines.shape import model_shape
from planner.engines.tensor_parallel import REPLICATED_ROLES
from planner.fit.budget import MAX_GPUS
from planner.frozen import record
from planner.hardware.gpus import Gpu
from planner.hardware.units import format_short
from planner.memory import kv
from planner.memory.estimate import MemoryEstimate, SettingsError
from planner.model.spec import AttentionKind, LayerSpec, ModelSpec, Role

#: Activation parts every rank holds whole: the residual stream and the gathered logits.
REPLICATED_ACTIVATIONS = frozenset(
    {"residual_stream", "sampler", "logits", "cpu_weights_staging", "hidden_kept"}
)
LLAMACPP_SOURCE = (
    "ggml-org/llama.cpp src/llama-model.cpp load_tensors (splits by free memory, upper_bound, dev_output)"
)
VLLM_SOURCE = (
    "vllm-project/vllm vllm/model_executor/layers/linear.py (QKVParallelLinear num_kv_head_replicas, "
    "RowParallelLinear), vocab_parallel_embedding.py (VocabParallelEmbedding, ParallelLMHead), "
    "fused_moe/layer.py (FusedMoE tp shards of the intermediate size)"
)


@record
class GpuShare:
    """What one GPU of a split holds, in bytes, against its capacity.

    ``layers`` lists the repeating layers a layer split put there (``n_layer`` stands for the
    output layer); it is empty for tensor parallel, where every GPU holds a slice of every layer.
    """

    index: int
    name: str
    capacity_bytes: int
    weights: int
    kv_cache: int
    activations: int
    overhead: int
    margin_bytes: int = 0
    layers: tuple[int, ...] = ()

    @property
    def total(self) -> int:
        """Bytes this GPU holds."""
        return self.weights + self.kv_cache + self.activations + self.overhead

    @property
    def headroom(self) -> int:
        """Capacity minus total minus margin (negative: short by that much)."""
        return self.capacity_bytes - self.total - self.margin_bytes

    @property
    def fits(self) -> bool:
        """True when the total and the margin fit the capacity."""
        return self.headroom >= 0

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output (integer bytes)."""
        return {
            "index": self.index,
            "name": self.name,
            "capacity": self.capacity_bytes,
            "weights": self.weights,
            "kv_cache": self.kv_cache,
            "activations": self.activations,
            "overhead": self.overhead,
            "total": self.total,
            "margin": self.margin_bytes,
            "headroom": self.headroom,
            "fits": self.fits,
            "layers": list(self.layers),
        }


@record
class SplitPlan:
    """A model split over several GPUs: ``mode`` ``"tensor"`` or ``"layer"``, one share per GPU."""

    mode: str
    shares: tuple[GpuShare, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def fits(self) -> bool:
        """True when every GPU's share fits."""
        return all(s.fits for s in self.shares)

    @property
    def total(self) -> int:
        """Bytes over all GPUs (replicated parts counted on every GPU)."""
        return sum(s.total for s in self.shares)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return {
            "mode": self.mode,
            "fits": self.fits,
            "total": self.total,
            "gpus": [s.to_dict() for s in self.shares],
            "notes": list(self.notes),
        }


# ---------------------------------------------------------------------------------------------
# shared helpers
# ---------------------------------------------------------------------------------------------


def _devices(gpus: Sequence[Any]) -> list[tuple[str, int]]:
    """``(name, capacity_bytes)`` per device: a catalog :class:`Gpu` (its usable memory), an object
    with ``name`` and ``capacity_bytes`` (a budget device), or a capacity in bytes."""
    if not gpus:
        raise SettingsError("a split needs at least one GPU")
    if len(gpus) > MAX_GPUS:
        raise SettingsError(f"a split spans at most {MAX_GPUS} GPUs, not {len(gpus)}")
    out = []
    for i, g in enumerate(gpus):
        if isinstance(g, Gpu):
            name, cap = g.name, g.usable_bytes
        elif isinstance(g, int) and not isinstance(g, bool):
            name, cap = f"GPU {i}", g
        elif hasattr(g, "capacity_bytes") and hasattr(g, "name"):
            name, cap = str(g.name), int(g.capacity_bytes)
        else:
            raise SettingsError(f"GPU {i}: give a catalog GPU or a capacity in bytes, not {type(g).__name__}")
        if cap <= 0:
            raise SettingsError(f"GPU {i} ({name}): capacity must be positive")
        out.append((name, cap))
    return out


def _spread(total: int, n: int) -> list[int]:
    """``total`` in ``n`` integer parts that sum to it (the first ``total % n`` get one more)."""
    base, extra = divmod(total, n)
    return [base + (1 if i < extra else 0) for i in range(n)]


def _apportion(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` split in proportion to ``weights``, integer parts summing exactly to ``total``."""
    whole = sum(weights)
    if not whole:
        return [0] * len(weights)
    out, acc, prev = [], 0, 0
    for w in weights:
        acc += w
        cut = total * acc // whole
        out.append(cut - prev)
        prev = cut
    return out


def _cache_width(layer: LayerSpec) -> int:
    """What a layer's cache scales with among layers of its kind: per-token elements or state size."""
    if layer.attention is AttentionKind.LINEAR:
        return layer.state_elements
    return layer.kv_elements_per_token


def layer_kv_bytes(est: MemoryEstimate) -> dict[int, int]:
    """KV bytes of every cached GPU layer: the estimate's per-kind figure apportioned by cache width.

    # NOTE: est.kv_cache.parts holds bytes per attention kind (exact); within a kind every layer
    # has the same cells, so its bytes scale with its per-token width (kv heads x head dims, MLA
    # latent, recurrent state). vLLM's hybrid "group_padding" is spread over all cached layers.
    # llama.cpp keeps host layers' KV on the host: only the GPU layers (the tail) are apportioned.
    """
    parts = dict(est.kv_cache.parts)
    padding = parts.pop("group_padding", 0)
    host_layers = _host_layer_count(est)
    by_kind: dict[str, list[LayerSpec]] = {}
    for layer in est.model.layers:
        if layer.index < host_layers or layer.attention is AttentionKind.NONE:
            continue
        by_kind.setdefault(kv.PART_NAMES[layer.attention], []).append(layer)
    out: dict[int, int] = {}
    for kind, total in parts.items():
        layers = by_kind.get(kind, [])
        for layer, b in zip(layers, _apportion(total, [_cache_width(x) for x in layers]), strict=True):
            out[layer.index] = out.get(layer.index, 0) + b
    if padding and out:
        keys = list(out)
        for k, b in zip(keys, _apportion(padding, [out[k] for k in keys]), strict=True):
            out[k] += b
    return out


def _host_layer_count(est: MemoryEstimate) -> int:
    """Repeating layers the estimate keeps on the host (llama.cpp ``-ngl`` below n_layer + 1), else 0.

    # NOTE: llama.cpp's placement rule (src/llama-model.cpp), the one planner/engines/llamacpp/weights.py
    # applies; only read here when the estimate has host layers.
    """
    if "layers" not in est.host_weights.parts or est.settings.gpu_layers is None:
        return 0
    n_layer = est.model.num_layers
    return min(first_gpu_layer(n_layer, est.settings.gpu_layers), n_layer)


def _activation_share(est: MemoryEstimate, n: int) -> list[int]:
    """Per-rank activations: replicated parts whole, the rest (attention/MLP transients) 1/N."""
    parts = est.activations.parts
    whole = sum(b for k, b in parts.items() if k in REPLICATED_ACTIVATIONS)
    split = est.activations.bytes - whole
    return [whole + s for s in _spread(max(split, 0), n)]


# ---------------------------------------------------------------------------------------------
# tensor parallel
# ---------------------------------------------------------------------------------------------


def _kv_heads(spec: ModelSpec, layers: tuple[int, ...]) -> int:
    """KV heads of the (first) attention layer a tensor group belongs to (0 if none)."""
    by_index = {layer.index: layer for layer in spec.layers}
    for i in layers:
        layer = by_index.get(i)
        if layer is not None and layer.kv_heads:
            return layer.kv_heads
    return 0


def _check_tp(spec: ModelSpec, n: int) -> None:
    """vLLM's divisibility rules: query heads by N; KV heads by N or N by KV heads."""
    heads = model_shape(spec).query_heads
    if heads and heads % n:
        raise SettingsError(
            f"tensor parallel needs the {heads} attention heads divisible by {n} GPUs (vLLM divide())"
        )
    for kv_heads in sorted({layer.kv_heads for layer in spec.layers if layer.kv_heads}):
        if kv_heads % n and n % kv_heads:
            raise SettingsError(
                f"tensor parallel over {n} GPUs needs the {kv_heads} KV heads divisible by {n} or {n} divisible "
                "by them (vLLM QKVParallelLinear)"
            )


def _kv_head_share(total: int, kv_heads: int, n: int) -> list[int]:
    """Bytes per rank of something laid out by KV head: 1/N when heads >= N, else one whole head each."""
    if kv_heads >= n or kv_heads == 0:
        return _spread(total, n)
    return [total // kv_heads] * n


def split_tensor_parallel(
    est: MemoryEstimate, gpus: Sequence[Gpu] | Sequence[int], *, margin_bytes: int = 0
) -> SplitPlan:
    """``est`` split over ``gpus`` by vLLM-style tensor parallelism (see the module docstring)."""
    devices = _devices(gpus)
    n = len(devices)
    if est.host_weights.bytes:
        raise SettingsError(
            f"{est.engine} keeps weights on the host; tensor parallelism is modelled for engines that put every "
            "weight on the GPUs (vLLM, transformers): use split_layers for llama.cpp (-sm layer)"
        )
    spec = est.model
    _check_tp(spec, n)
    weights = [0] * n
    replicated = 0
    for t in est.weights_report.tensors:
        role, group = t.group.role, t.group
        if role in REPLICATED_ROLES:
            shares = [t.bytes] * n
            replicated += t.bytes
        elif role in (Role.ATTN_K, Role.ATTN_V):
            shares = _kv_head_share(t.bytes, _kv_heads(spec, group.layers), n)
        elif role is Role.ATTN_QKV:
            shares = _fused_qkv_share(t.bytes, group.shape, group.layers, spec, n)
        else:
            shares = _spread(t.bytes, n)
        weights = [w + s for w, s in zip(weights, shares, strict=True)]
    # bytes an engine adds while loading (vLLM: the rotary cache, replicated; MXFP4 padding, split)
    added = est.weights.bytes - est.weights_report.total_bytes
    if added > 0:
        rope = est.weights.parts.get("rotary_cos_sin_cache", 0)
        weights = [w + rope + s for w, s in zip(weights, _spread(added - rope, n), strict=True)]

    kv_share = [0] * n
    layers = {layer.index: layer for layer in spec.layers}
    for index, b in layer_kv_bytes(est).items():
        layer = layers[index]
        if layer.attention is AttentionKind.MLA:
            shares = [b] * n  # one latent "head": every rank caches all of it
        elif layer.attention is AttentionKind.LINEAR:
            shares = _spread(b, n)
        else:
            shares = _kv_head_share(b, layer.kv_heads, n)
        kv_share = [k + s for k, s in zip(kv_share, shares, strict=True)]

    weights = [w + s for w, s in zip(weights, _spread(est.extras_bytes, n), strict=True)]
    acts = _activation_share(est, n)
    kv_counts = sorted({layer.kv_heads for layer in spec.layers if layer.kv_heads})
    notes = [
        f"tensor parallel over {n} GPUs ({VLLM_SOURCE}): attention, MLP, experts and vocabulary split 1/{n}; "
        f"norms, biases, routers and vision tower replicated ({format_short(replicated)} on every GPU)",
        f"each GPU pays the full overhead ({format_short(est.overhead.bytes)}: CUDA context, engine buffers)",
        "activations: residual stream and logits/sampler whole on every GPU, attention/MLP transients 1/N",
    ]
    if any(k < n for k in kv_counts):
        notes.append(
            f"{min(kv_counts)} KV heads < {n} GPUs: vLLM replicates KV heads (num_kv_head_replicas), "
            "so each GPU holds one whole head of K/V weights and cache"
        )
    if any(layer.attention is AttentionKind.MLA for layer in spec.layers):
        notes.append("MLA latent cache replicated on every GPU (one latent head)")
    notes.append("vocabulary padding to a multiple of 64 (VocabParallelEmbedding) is not counted")
    shares = tuple(
        GpuShare(i, name, cap, weights[i], kv_share[i], acts[i], est.overhead.bytes, margin_bytes)
        for i, (name, cap) in enumerate(devices)
    )
    return SplitPlan("tensor", shares, tuple(notes))


def _fused_qkv_share(
    total: int, shape: tuple[int, ...], layers: tuple[int, ...], spec: ModelSpec, n: int
) -> list[int]:
    """A fused qkv projection: the query rows split 1/N, the K/V rows by KV head."""
    by_index = {layer.index: layer for layer in spec.layers}
    layer = next((by_index[i] for i in layers if i in by_index and by_index[i].kv_heads), None)
    rows = shape[0] if shape else 0
    if layer is None or not rows:
        return _spread(total, n)
    kv_rows = layer.kv_heads * (layer.k_head_dim + layer.v_head_dim)
    kv_bytes = total * min(kv_rows, rows) // rows
    q = _spread(total - kv_bytes, n)
    kvs = _kv_head_share(kv_bytes, layer.kv_heads, n)
    return [a + b for a, b in zip(q, kvs, strict=True)]


# ---------------------------------------------------------------------------------------------
# layer split
# ---------------------------------------------------------------------------------------------


def _f32(x: float) -> float:
    """``x`` rounded to a C float (llama.cpp computes the split points in float)."""
    return struct.unpack("f", struct.pack("f", x))[0]


def layer_devices(weights: Sequence[float], start: int, slots: int) -> dict[int, int]:
    """Device of each GPU slot ``start .. start + slots - 1`` (slot ``n_layer`` is the output layer).

    # NOTE: float arithmetic as in llama.cpp load_tensors: split_sum += splits[i]; splits[i] /= split_sum;
    # layer_gpu = upper_bound(splits, float(il - i_gpu_start) / act_gpu_layers).
    """
    cumulative, acc = [], _f32(0.0)
    for w in weights:
        acc = _f32(acc + _f32(float(w)))
        cumulative.append(acc)
    if acc <= 0:
        raise SettingsError("the split weights must not all be zero")
    points = [_f32(c / acc) for c in cumulative]
    last = len(points) - 1
    return {
        il: min(bisect.bisect_right(points, _f32((il - start) / slots)), last)
        for il in range(start, start + slots)
    }


def split_layers(
    est: MemoryEstimate,
    gpus: Sequence[Gpu] | Sequence[int],
    *,
    margin_bytes: int = 0,
    tensor_split: Sequence[float] | None = None,
) -> SplitPlan:
    """``est`` split over ``gpus`` by whole layers, llama.cpp ``-sm layer`` style (see the module docstring).

    ``tensor_split`` is llama.cpp's ``--tensor-split`` (proportions per GPU); by default the layers
    go in proportion to each GPU's capacity (llama.cpp uses the free memory it finds at load time).
    """
    devices = _devices(gpus)
    n = len(devices)
    if tensor_split is not None:
        if len(tensor_split) != n or any(w < 0 for w in tensor_split):
            raise SettingsError(f"tensor_split needs {n} non-negative proportions, one per GPU")
        weights_by = list(tensor_split)
    else:
        weights_by = [cap for _, cap in devices]
    spec = est.model
    n_layer = spec.num_layers
    start = _host_layer_count(est)
    slots = n_layer + 1 - start  # the GPU-resident layers and the output layer
    device_of = layer_devices(weights_by, start, slots)
    output_gpu = device_of[n_layer]
    llamacpp = est.engine in ("llama.cpp", "ollama")

    weights = [0] * n
    for t in est.weights_report.tensors:
        group = t.group
        if group.layers:
            count = len(group.layers)
            for pos, il in enumerate(group.layers):
                if il < start:
                    continue
                # tail-based cut, as the engine counts GPU bytes: bytes x (layers from here on) // count
                b = t.bytes * (count - pos) // count - t.bytes * (count - pos - 1) // count
                weights[device_of[il]] += b
    layered_gpu = sum(weights)
    if llamacpp:
        parts = est.weights.parts
        weights[output_gpu] += parts.get("output_layer", 0)
        other = est.weights.bytes - layered_gpu - parts.get("output_layer", 0)
        weights[output_gpu] += max(other, 0)
    else:
        has_head = any(t.group.role is Role.LM_HEAD for t in est.weights_report.tensors)
        for t in est.weights_report.tensors:
            if t.group.layers:
                continue
            role = t.group.role
            if role in (Role.EMBEDDING, Role.POSITION_EMBEDDING, Role.VISION, Role.PROJECTOR):
                weights[0] += t.bytes
                if role is Role.EMBEDDING and not has_head and spec.tied_embeddings and output_gpu != 0:
                    weights[output_gpu] += t.bytes  # the last stage needs the tied head too
            else:
                weights[output_gpu] += t.bytes
        # bytes the engine adds while loading (vLLM's rotary cache: every stage builds its own layers')
        added = est.weights.bytes - est.weights_report.total_bytes
        if added > 0:
            rope = est.weights.parts.get("rotary_cos_sin_cache", 0)
            weights = [w + rope for w in weights]
            weights = [w + s for w, s in zip(weights, _apportion(added - rope, weights), strict=True)]

    kv_share = [0] * n
    for index, b in layer_kv_bytes(est).items():
        kv_share[device_of[index]] += b
    weights[0] += est.extras_bytes  # mmproj, draft model, LoRA adapters: on the main GPU

    layers_on = [tuple(il for il in range(start, n_layer + 1) if device_of[il] == i) for i in range(n)]
    notes = [
        f"layer split over {n} GPUs ({LLAMACPP_SOURCE}): "
        + ", ".join(f"GPU {i}: {_describe(layers_on[i], n_layer)}" for i in range(n)),
        "split points from "
        + (
            "--tensor-split " + ":".join(f"{w:g}" for w in weights_by)
            if tensor_split is not None
            else "each GPU's capacity (llama.cpp: free memory at load)"
        ),
        f"each GPU holds its layers' KV cache, its own compute buffer ({format_short(est.activations.bytes)}) "
        f"and CUDA context ({format_short(est.overhead.bytes)})",
        "llama.cpp's pipeline-parallel copies of the compute graph inputs (n_copies) are not counted",
    ]
    if llamacpp and est.host_weights.bytes:
        notes.append(f"host memory unchanged: {format_short(est.host_total)} (input layer and CPU layers)")
    if not llamacpp:
        notes.append("embedding on the first GPU, final norm and lm_head on the last (pipeline stages)")
    shares = tuple(
        GpuShare(
            i,
            name,
            cap,
            weights[i],
            kv_share[i],
            est.activations.bytes,
            est.overhead.bytes,
            margin_bytes,
            layers_on[i],
        )
        for i, (name, cap) in enumerate(devices)
    )
    return SplitPlan("layer", shares, tuple(notes))


def _describe(layers: tuple[int, ...], n_layer: int) -> str:
    """``"layers 0-16"``, ``"layers 17-31 + output"`` or ``"nothing"``."""
    repeating = [il for il in layers if il < n_layer]
    text = f"layers {repeating[0]}-{repeating[-1]}" if repeating else ""
    if n_layer in layers:
        text = f"{text} + output" if text else "output layer"
    return text or "nothing"
