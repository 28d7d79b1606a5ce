"""The model shape the engines share: the widths one token's activations have, and the run dtype.

:func:`model_shape` reads the few widths the activation and compute-buffer models need (query
heads, FFN width, vocabulary, experts) from the spec's tensors; :func:`model_dtype` is the dtype a
format runs its activations (and, by default, its KV cache) in.
"""

from __future__ import annotations

from planner.frozen import record
from planner.memo import per_object
from planner.model.spec import ROUTED_EXPERT_ROLES, AttentionKind, ModelSpec, Role


@record
class ModelShape:
    """Widths read from the spec: what one token's activations look like."""

    hidden: int
    vocab: int
    query_heads: int
    head_dim: int  # query/key head dimension (attention layers)
    kv_dim: int  # K + V elements per token of the widest attention layer
    ffn: int  # widest dense MLP intermediate (0 if none)
    expert_ffn: int  # routed-expert intermediate (0 if none)
    top_k: int
    n_experts: int
    attention_layers: int
    mla_expand: int  # MLA: per-token elements of the expanded K and V (heads x (qk + v)), 0 otherwise
    ssm_in: int = 0  # widest SSM input projection (rows of a 2-D ssm_in tensor), 0 without one


def _rows(spec: ModelSpec, roles: frozenset[Role] | set[Role]) -> list[tuple[int, ...]]:
    return [t.shape for t in spec.tensors if t.role in roles and len(t.shape) >= 2]


@per_object()
def model_shape(spec: ModelSpec) -> ModelShape:
    """The widths of ``spec`` (from its tensor shapes; generic fallbacks when a role is missing)."""
    attn = [layer for layer in spec.layers if layer.attention in (AttentionKind.FULL, AttentionKind.SLIDING)]
    mla = [layer for layer in spec.layers if layer.attention is AttentionKind.MLA]
    head_dim = max((layer.k_head_dim for layer in attn), default=0)
    kv_dim = max((layer.kv_heads * (layer.k_head_dim + layer.v_head_dim) for layer in attn), default=0)
    heads = 0
    q = _rows(spec, {Role.ATTN_Q})
    qkv = _rows(spec, {Role.ATTN_QKV})
    if head_dim and q:
        heads = max(s[0] for s in q) // head_dim
    elif head_dim and qkv:
        heads = max(s[0] for s in qkv) // head_dim - 2 * max(layer.kv_heads for layer in attn)
    mla_expand = 0
    if mla:
        heads, head_dim, mla_expand = _mla_heads(spec, mla[0].latent_dim)
    if not heads:
        head_dim = head_dim or 128
        heads = max(spec.hidden_size // head_dim, 1)
    # dense MLP width: up/gate rows, or half of a fused gate_up
    ffn = max(
        [s[0] for s in _rows(spec, {Role.MLP_UP, Role.MLP_GATE})]
        + [s[0] // 2 for s in _rows(spec, {Role.MLP_GATE_UP})]
        + [s[0] for s in _rows(spec, {Role.SHARED_EXPERT_UP})],
        default=0,
    )
    expert_ffn = 0
    for t in spec.tensors:
        if t.role in ROUTED_EXPERT_ROLES and len(t.shape) >= 2:
            width = t.shape[-2] if t.role is not Role.EXPERT_DOWN else t.shape[-1]
            if t.role is Role.EXPERT_GATE_UP:
                width //= 2
            expert_ffn = max(expert_ffn, width)
    return ModelShape(
        hidden=spec.hidden_size,
        vocab=spec.vocab_size,
        query_heads=heads,
        head_dim=head_dim,
        kv_dim=kv_dim,
        ffn=ffn,
        expert_ffn=expert_ffn,
        top_k=spec.n_experts_per_token,
        n_experts=spec.n_experts,
        attention_layers=len(attn) + len(mla),
        mla_expand=mla_expand,
        ssm_in=max(
            (t.shape[0] for t in spec.tensors if t.role is Role.SSM_IN and len(t.shape) == 2), default=0
        ),
    )


def _mla_heads(spec: ModelSpec, latent: int) -> tuple[int, int, int]:
    """MLA heads, qk head dim and expanded K+V width from q/kv_b/o projection shapes.

    q rows = H x (nope + rope); kv_b rows = H x (nope + v), kv_b cols = kv_lora_rank;
    o cols = H x v; rope = latent - kv_lora_rank. Returns ``(0, 0, 0)`` when shapes are missing.
    """
    kv_b = _rows(spec, {Role.ATTN_KV_B})
    q = _rows(spec, {Role.ATTN_Q_B}) or _rows(spec, {Role.ATTN_Q})
    o = _rows(spec, {Role.ATTN_OUT})
    if not (kv_b and q and o):
        return 0, 0, 0
    rank = kv_b[0][1]
    rope = latent - rank
    h_v = o[0][1]
    h_nope = kv_b[0][0] - h_v
    h_rope = q[0][0] - h_nope
    if rope <= 0 or h_rope <= 0 or h_rope % rope:
        return 0, 0, 0
    heads = h_rope // rope
    qk = q[0][0] // heads
    return heads, qk, heads * qk + h_v


def model_dtype(fmt: object) -> str:
    """The activation (and default KV) dtype a format runs in: ``fp16``/``fp32`` when the format
    says so, else ``bf16`` (the dtype of current checkpoints and of every quantized kernel's
    activations on Ampere and later)."""
    declared = getattr(fmt, "compute_dtype", None) or getattr(fmt, "activation_dtype", None)
    if isinstance(declared, str) and declared.lower() in (
        "fp16",
        "float16",
        "bf16",
        "bfloat16",
        "fp32",
        "float32",
    ):
        return {"float16": "fp16", "bfloat16": "bf16", "float32": "fp32"}.get(
            declared.lower(), declared.lower()
        )
    fid = str(getattr(fmt, "id", "")).lower()
    if fid in ("fp16", "f16", "float16"):
        return "fp16"
    if fid in ("fp32", "f32", "float32"):
        return "fp32"
    return "bf16"
