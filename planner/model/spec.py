"""The typed model description: which tensors a model has, and what each layer caches.

Everything downstream (weight bytes per format, KV cache, offload splits) reads a
:class:`ModelSpec`; nothing downstream reads ``config.json`` again.
"""

from __future__ import annotations

import math
from dataclasses import field
from enum import StrEnum

from planner.frozen import record
from planner.memo import per_object


class AttentionKind(StrEnum):
    """What a layer keeps between tokens; the KV cache depends on it."""

    FULL = "full"  # K and V for every past token
    SLIDING = "sliding"  # K and V for the last ``window`` tokens only
    MLA = "mla"  # one compressed latent per token (DeepSeek multi-head latent attention)
    LINEAR = "linear"  # fixed-size recurrent state (Mamba, gated DeltaNet): no per-token cache
    NONE = "none"  # no token mixing state at all


class Role(StrEnum):
    """What a tensor does. Quantization formats choose storage per role."""

    EMBEDDING = "embedding"
    POSITION_EMBEDDING = "position_embedding"
    LM_HEAD = "lm_head"
    ATTN_Q = "attn_q"
    ATTN_K = "attn_k"
    ATTN_V = "attn_v"
    ATTN_QKV = "attn_qkv"  # fused q/k/v projection
    ATTN_OUT = "attn_out"
    ATTN_GATE = "attn_gate"  # output gate of gated attention (Qwen3-Next, folded into q there)
    ATTN_Q_A = "attn_q_a"  # MLA query down-projection
    ATTN_Q_B = "attn_q_b"  # MLA query up-projection
    ATTN_KV_A = "attn_kv_a"  # MLA joint KV down-projection (+ decoupled rope key)
    ATTN_KV_B = "attn_kv_b"  # MLA KV up-projection
    ATTN_SINKS = "attn_sinks"
    MLP_GATE = "mlp_gate"
    MLP_UP = "mlp_up"
    MLP_GATE_UP = "mlp_gate_up"  # fused gate and up projection
    MLP_DOWN = "mlp_down"
    ROUTER = "router"
    EXPERT_GATE = "expert_gate"
    EXPERT_UP = "expert_up"
    EXPERT_GATE_UP = "expert_gate_up"
    EXPERT_DOWN = "expert_down"
    SHARED_EXPERT_GATE = "shared_expert_gate"
    SHARED_EXPERT_UP = "shared_expert_up"
    SHARED_EXPERT_DOWN = "shared_expert_down"
    SHARED_EXPERT_ROUTER = "shared_expert_router"  # sigmoid gate in front of a shared expert
    SSM_IN = "ssm_in"  # state-space / linear-attention input projection
    SSM_OUT = "ssm_out"
    SSM_CONV = "ssm_conv"  # depthwise causal conv1d
    SSM_PARAM = "ssm_param"  # A_log, D, dt_bias and similar small vectors
    NORM = "norm"
    BIAS = "bias"
    VISION = "vision"  # vision tower tensors (and audio towers: encoders outside the language model)
    PROJECTOR = "projector"  # multimodal projector
    MTP = "mtp"  # multi-token-prediction / next-n / draft-head tensors (DeepSeek-V3, GLM-4.5, Qwen3-Next)
    OTHER = "other"  # a weight of no known kind: quantized like any matrix, kept as-is when a vector


class InventorySource(StrEnum):
    """Where a model's tensor inventory came from, most authoritative first."""

    HEADERS = "safetensors headers"  # the checkpoint's own tensors: exact, pre-quantized included
    META = "transformers meta device"  # transformers' modeling code, shapes only: exact
    BUILDER = "hand-written builder"  # the planner's own reading of the config (checked against transformers)
    TEMPLATE = "template"  # a tensor template derived from transformers' modeling code (data/templates/)
    GENERIC = "generic estimate"  # an unknown architecture read as a Llama-style decoder: approximate


#: Roles of a multimodal model's vision (or audio) towers and projector: llama.cpp's mmproj file.
MULTIMODAL_ROLES = frozenset({Role.VISION, Role.PROJECTOR})
#: Routed-expert roles: only ``top_k`` of ``n_experts`` run per token.
ROUTED_EXPERT_ROLES = frozenset({Role.EXPERT_GATE, Role.EXPERT_UP, Role.EXPERT_GATE_UP, Role.EXPERT_DOWN})
#: The decoder's linear layers other than routed experts: attention (MLA's projections too), dense MLP
#: and shared experts.
DENSE_LINEAR_ROLES = frozenset(
    {
        Role.ATTN_Q,
        Role.ATTN_K,
        Role.ATTN_V,
        Role.ATTN_QKV,
        Role.ATTN_OUT,
        Role.ATTN_Q_A,
        Role.ATTN_Q_B,
        Role.ATTN_KV_A,
        Role.ATTN_KV_B,
        Role.MLP_GATE,
        Role.MLP_UP,
        Role.MLP_GATE_UP,
        Role.MLP_DOWN,
        Role.SHARED_EXPERT_GATE,
        Role.SHARED_EXPERT_UP,
        Role.SHARED_EXPERT_DOWN,
    }
)


@record
class TensorGroup:
    """Tensors of one shape and role, repeated ``count`` times.

    ``name`` is the checkpoint tensor name with ``*`` for the layer index (and the
    expert index for routed experts); ``layers`` lists the layer indices it occurs in.
    """

    name: str
    role: Role
    shape: tuple[int, ...]
    count: int = 1
    layers: tuple[int, ...] = ()
    #: For routed experts: the fraction of ``count`` that runs per token (top_k / n_experts).
    active_fraction: tuple[int, int] = (1, 1)
    #: Bytes of all ``count`` tensors as the checkpoint stores them (safetensors headers only;
    #: packed data and quantization state included), and how: ``"BF16"``, ``"gptq I32 qweight + ..."``.
    stored_bytes: int | None = None
    stored_as: str | None = None

    @property
    def numel(self) -> int:
        """Elements in one tensor of the group."""
        return math.prod(self.shape)

    @property
    def parameters(self) -> int:
        """Elements in all tensors of the group."""
        return self.numel * self.count

    @property
    def active_parameters(self) -> int:
        """Elements used per token (routed experts count ``top_k`` of ``n_experts``)."""
        num, den = self.active_fraction
        return self.parameters * num // den


@record
class LayerSpec:
    """One decoder layer: its attention kind and the geometry of what it caches.

    Per token a FULL or SLIDING layer caches ``kv_heads * (k_head_dim + v_head_dim)``
    elements, an MLA layer ``latent_dim`` (plus ``indexer_dim`` with a DSA indexer); a LINEAR layer
    holds ``state_elements`` per sequence whatever the context. A parallel hybrid layer (Falcon-H1:
    attention and Mamba side by side) is FULL with ``state_elements`` as well.
    """

    index: int
    attention: AttentionKind
    window: int | None = None
    kv_heads: int = 0
    k_head_dim: int = 0
    v_head_dim: int = 0
    latent_dim: int = 0
    state_elements: int = 0
    moe: bool = False
    #: Per-token elements a DSA indexer caches besides the MLA latent (DeepSeek-V3.2's index keys).
    indexer_dim: int = 0
    #: For a layer that reuses another layer's K and V (Gemma 3n, Gemma 4 KV sharing): that layer's
    #: index. Such a layer is ``NONE`` here: it caches nothing of its own.
    kv_shared_from: int | None = None
    #: True for a ``SLIDING`` layer that attends within fixed chunks of ``window`` tokens (Llama 4's
    #: chunked attention) rather than a window sliding token by token.
    chunked: bool = False
    #: True when the recurrent state is kept in the activation dtype rather than fp32 (MiniMax's
    #: lightning attention); conv windows are always in the activation dtype.
    state_in_model_dtype: bool = False

    @property
    def kv_elements_per_token(self) -> int:
        """Cache elements one token adds to this layer (0 for linear/none layers)."""
        if self.attention in (AttentionKind.FULL, AttentionKind.SLIDING):
            return self.kv_heads * (self.k_head_dim + self.v_head_dim)
        if self.attention is AttentionKind.MLA:
            return self.latent_dim + self.indexer_dim
        return 0


@record
class ModelSpec:
    """Everything the planner knows about a model's shape.

    ``approximate`` is set when some figure is an estimate (an unrecognised architecture read
    as a generic decoder, or parts of a wrapper left out); ``notes`` says what was assumed.
    ``inventory_source`` says where the tensors came from (:class:`InventorySource`) and
    ``inventory_detail`` which files or which library version.
    """

    name: str
    architecture: str  # the config's model_type, e.g. "llama"
    family: str  # the builder that read it, e.g. "llama" for mistral too
    hidden_size: int
    vocab_size: int
    max_position_embeddings: int | None
    layers: tuple[LayerSpec, ...]
    tensors: tuple[TensorGroup, ...]
    n_experts: int = 0
    n_experts_per_token: int = 0
    tied_embeddings: bool = False
    approximate: bool = False
    notes: tuple[str, ...] = field(default=())
    inventory_source: InventorySource = InventorySource.BUILDER
    inventory_detail: str = ""

    @property
    def total_parameters(self) -> int:
        """Every stored parameter, tied weights once."""
        return _total_parameters(self)

    @property
    def active_parameters(self) -> int:
        """Parameters used for one token: all but the routed experts not chosen."""
        return _active_parameters(self)

    @property
    def vision_parameters(self) -> int:
        """Parameters of the multimodal towers and projector (llama.cpp's separate mmproj file)."""
        return sum(t.parameters for t in self.tensors if t.role in MULTIMODAL_ROLES)

    @property
    def language_parameters(self) -> int:
        """Parameters of the language model alone (everything but the multimodal towers and projector)."""
        return self.total_parameters - self.vision_parameters

    @property
    def num_layers(self) -> int:
        """Decoder layers."""
        return len(self.layers)

    @property
    def is_moe(self) -> bool:
        """True when any layer routes tokens to experts."""
        return self.n_experts > 0

    def parameters_by_role(self) -> dict[Role, int]:
        """Total parameters per role, in role order."""
        out: dict[Role, int] = {}
        for t in self.tensors:
            out[t.role] = out.get(t.role, 0) + t.parameters
        return out


# A spec is frozen: its sums are made once (ranking and the speed model read them per pair).
@per_object()
def _total_parameters(spec: ModelSpec) -> int:
    return sum(t.parameters for t in spec.tensors)


@per_object()
def _active_parameters(spec: ModelSpec) -> int:
    return sum(t.active_parameters for t in spec.tensors)
