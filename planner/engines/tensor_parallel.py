"""One tensor-parallel rank's share of the weights and the KV cache (vLLM, SGLang, TensorRT-LLM).

The three engines shard the same way (vLLM ``vllm/model_executor/layers/linear.py``
``QKVParallelLinear``/``RowParallelLinear``/``MergedColumnParallelLinear``,
``vocab_parallel_embedding.py``; SGLang and TensorRT-LLM copy these layers): attention heads, MLP
and expert intermediate widths and the vocabulary split 1/N; K/V heads split while there are at
least N of them, else each rank holds one whole head (``num_kv_head_replicas = tp // kv_heads``);
norms, biases, routers and MLA down-projections are replicated.
"""

from __future__ import annotations

from planner.formats.base import TensorStorage, WeightsReport
from planner.frozen import record
from planner.memory.kv import cdiv
from planner.model.spec import AttentionKind, ModelSpec, Role

#: Roles every tensor-parallel rank holds whole.
REPLICATED_ROLES = frozenset(
    {
        Role.NORM,
        Role.BIAS,
        Role.ROUTER,
        Role.SHARED_EXPERT_ROUTER,
        Role.POSITION_EMBEDDING,
        Role.ATTN_Q_A,
        Role.ATTN_KV_A,
        Role.VISION,
        Role.PROJECTOR,
    }
)
#: vLLM ``DEFAULT_VOCAB_PADDING_SIZE`` (vocab_parallel_embedding.py): vocabularies are padded to 64.
VOCAB_PADDING = 64


def kv_heads_per_rank(kv_heads: int, tp: int) -> int:
    """K/V heads one rank holds: ``kv_heads / tp``, at least one whole head (replicated)."""
    if kv_heads <= 0:
        return 0
    return max(kv_heads // tp, 1)


def _layer_kv_heads(spec: ModelSpec, layers: tuple[int, ...]) -> int:
    by_index = {layer.index: layer for layer in spec.layers}
    heads = [by_index[i].kv_heads for i in layers if i in by_index and by_index[i].kv_heads]
    return max(heads, default=0)


def _kv_fraction(kv_heads: int, tp: int) -> tuple[int, int]:
    """(numerator, denominator) of a K/V tensor one rank holds."""
    if kv_heads <= 0:
        return 1, tp
    return kv_heads_per_rank(kv_heads, tp), kv_heads


@record
class RankShare:
    """One tensor group's bytes on one rank, and why."""

    tensor: TensorStorage
    bytes: int
    how: str  # "replicated", "split", "kv heads", "vocab"


def rank_shares(report: WeightsReport, spec: ModelSpec, tp: int) -> tuple[RankShare, ...]:
    """Every tensor group's bytes on one of ``tp`` ranks (rank 0; the ranks differ by rounding only)."""
    out: list[RankShare] = []
    for t in report.tensors:
        g = t.group
        if tp == 1:
            out.append(RankShare(t, t.bytes, "whole"))
        elif g.role in REPLICATED_ROLES:
            out.append(RankShare(t, t.bytes, "replicated"))
        elif g.role in (Role.ATTN_K, Role.ATTN_V):
            num, den = _kv_fraction(_layer_kv_heads(spec, g.layers), tp)
            out.append(RankShare(t, t.bytes * num // den, "kv heads"))
        elif g.role is Role.ATTN_QKV and len(g.shape) == 2:
            heads = _layer_kv_heads(spec, g.layers)
            head_dim = max((layer.k_head_dim for layer in spec.layers if layer.index in g.layers), default=0)
            kv_rows = min(2 * heads * head_dim, g.shape[0])
            q_bytes = t.bytes * (g.shape[0] - kv_rows) // g.shape[0]
            num, den = _kv_fraction(heads, tp)
            out.append(RankShare(t, q_bytes // tp + (t.bytes - q_bytes) * num // den, "q split, kv heads"))
        elif g.role in (Role.EMBEDDING, Role.LM_HEAD) and g.shape:
            rows = g.shape[0]
            padded = cdiv(rows, VOCAB_PADDING) * VOCAB_PADDING
            per_rank = cdiv(padded, tp)
            out.append(RankShare(t, t.bytes * per_rank // rows, "vocab"))
        else:
            out.append(RankShare(t, cdiv(t.bytes, tp), "split"))
    return tuple(out)


def kv_bytes_per_token(spec: ModelSpec, dtype_bytes: float, tp: int) -> int:
    """KV bytes one token adds on one rank over all attention layers (K + V, or the MLA latent)."""
    total = 0.0
    for layer in spec.layers:
        if layer.attention in (AttentionKind.FULL, AttentionKind.SLIDING):
            total += (
                kv_heads_per_rank(layer.kv_heads, tp) * (layer.k_head_dim + layer.v_head_dim) * dtype_bytes
            )
        elif layer.attention is AttentionKind.MLA:
            total += layer.latent_dim * dtype_bytes
    return round(total)


__all__ = ["REPLICATED_ROLES", "RankShare", "kv_bytes_per_token", "kv_heads_per_rank", "rank_shares"]
