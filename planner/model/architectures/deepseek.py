"""DeepSeek-V2 / V2-Lite / V2.5 (``deepseek_v2``), DeepSeek-V3 / V3.1 / R1 and Kimi K2 (``deepseek_v3``),
DeepSeek-V3.2 (``deepseek_v32``) and Mistral Small 4 (``mistral4``).

Multi-head latent attention (MLA: low-rank query and joint KV projections, one cached
latent per token), ``first_k_dense_replace`` dense layers, then DeepSeekMoE layers
(router, fine-grained routed experts, always-on shared experts).
Sources: transformers ``models/deepseek_v2/{configuration,modeling}_deepseek_v2.py`` and
``models/deepseek_v3/{configuration,modeling}_deepseek_v3.py`` (transformers 5.x); tensor
names and ``moe_layer_freq`` / MTP layout from DeepSeek's own ``modeling_deepseek.py`` and
``README_WEIGHTS.md`` in the model repositories; ``models/deepseek_v32/{configuration,modeling}_deepseek_v32.py``
(``DeepseekV32Indexer``: the DSA lightning indexer) and ``cache_utils.py`` (``DynamicIndexedLayer``);
``models/mistral4/modeling_mistral4.py`` (MLA + MoE without a router correction bias).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from planner.errors import InvalidFieldError
from planner.model.architectures import register
from planner.model.architectures.common import (
    add_embeddings,
    add_gated_mlp,
    add_routed_experts,
    num_layers,
)
from planner.model.builder import SpecBuilder
from planner.model.config import LIMITS, ConfigView
from planner.model.spec import AttentionKind, LayerSpec, ModelSpec, Role

#: The value :func:`_nullable_int` returns for a field present as ``null``.
_NULL = -1


@dataclass(frozen=True)
class _Version:
    """Defaults of transformers' ``DeepseekV2Config`` / ``DeepseekV3Config`` where they differ."""

    first_k_dense_replace: int
    n_shared_experts: int
    n_routed_experts: int
    moe_intermediate_size: int
    num_experts_per_tok: int | None
    router_bias: bool  # V3: ``gate.e_score_correction_bias`` (aux-loss-free balancing)
    mlp_bias: bool  # V2 honours ``mlp_bias`` on dense and shared-expert MLPs; V3 has no biases
    indexer: bool = False  # V3.2: every layer's DSA indexer (its own projections and cached keys)
    mtp_copies: bool = True  # the MTP layers carry their own embedding and head copies (not GLM-5's)


_VERSIONS = {
    "deepseek_v2": _Version(0, 2, 64, 1407, None, router_bias=False, mlp_bias=True),
    "deepseek_v3": _Version(3, 1, 256, 2048, 8, router_bias=True, mlp_bias=False),
    "deepseek_v32": _Version(3, 1, 256, 2048, 8, router_bias=True, mlp_bias=False, indexer=True),
    "mistral4": _Version(0, 1, 128, 2048, 4, router_bias=False, mlp_bias=False),
    "glm_moe_dsa": _Version(
        3, 1, 256, 2048, 8, router_bias=True, mlp_bias=False, indexer=True, mtp_copies=False
    ),
}
#: model_types that DeepSeek's own code serves under another name.
# NOTE: Kimi K2 ships model_type "kimi_k2" with DeepSeek-V3's modeling code (architectures
# DeepseekV3ForCausalLM, remote code only); vLLM and SGLang load it as DeepSeek-V3.
_ALIASES = {"kimi_k2": "deepseek_v3"}


@dataclass(frozen=True)
class _Mla:
    """MLA geometry."""

    heads: int
    q_lora_rank: int | None  # None: a plain ``q_proj`` (V2-Lite)
    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int

    @property
    def qk_head_dim(self) -> int:
        return self.qk_nope_head_dim + self.qk_rope_head_dim

    @property
    def latent_dim(self) -> int:
        """Cached per token and layer: the KV latent plus the shared rope key."""
        return self.kv_lora_rank + self.qk_rope_head_dim


@dataclass(frozen=True)
class _Block:
    """What the decoder layers of one model share."""

    hidden: int
    mla: _Mla
    attn_bias: bool
    mlp_bias: bool
    router_bias: bool
    first_dense: int  # first_k_dense_replace
    freq: int  # moe_layer_freq
    n_experts: int  # routed experts; 0 for none
    top_k: int = 0
    moe_inter: int = 0
    shared: int = 0  # shared-expert width: n_shared_experts * moe_intermediate_size
    #: V3.2's explicit ``mlp_layer_types`` ("dense" / "sparse" per layer), when the config gives them.
    mlp_types: tuple[str, ...] = ()
    indexer: tuple[int, int] | None = None  # (index_n_heads, index_head_dim) for V3.2
    #: GLM-5: layers marked "shared" in ``indexer_types`` reuse the previous full layer's top-k: no indexer.
    shared_indexer: frozenset[int] = frozenset()
    notes: tuple[str, ...] = ()

    def is_moe(self, i: int) -> bool:
        """Layer ``i`` routes to experts.

        # NOTE: DeepSeek's code makes layer ``i`` an MoE layer when ``n_routed_experts`` is set,
        # ``i >= first_k_dense_replace`` and ``i % moe_layer_freq == 0``. transformers' port ignores
        # ``moe_layer_freq`` (every published config has 1); the checkpoint follows DeepSeek's rule.
        """
        if self.mlp_types and i < len(self.mlp_types):
            return self.n_experts > 0 and self.mlp_types[i] == "sparse"
        return self.n_experts > 0 and i >= self.first_dense and i % self.freq == 0


@register(*_VERSIONS, *_ALIASES)
def build_deepseek(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """Read a DeepSeek-V2/V3/V3.2 (or Kimi K2, Mistral Small 4) config."""
    v = _VERSIONS[_ALIASES.get(cfg.architecture, cfg.architecture)]
    b = SpecBuilder(cfg, "deepseek")
    hidden = cfg.int("hidden_size")
    vocab = cfg.int("vocab_size", maximum=LIMITS["vocab"])
    n = num_layers(cfg)
    mtp = cfg.int("num_nextn_predict_layers", 0, minimum=0, maximum=LIMITS["layers"])
    tied = cfg.bool("tie_word_embeddings", False)
    block = _block(cfg, v, hidden, n + mtp)
    for note in block.notes:
        b.note(note)

    add_embeddings(b, vocab, hidden, tied=tied)
    b.add_norm("model.norm", hidden)
    for i in range(n):
        _add_layer(b, cfg, block, i)
        b.layers.append(
            LayerSpec(
                index=i,
                attention=AttentionKind.MLA,
                latent_dim=block.mla.latent_dim,
                moe=block.is_moe(i),
                indexer_dim=block.indexer[1] if block.indexer and i not in block.shared_indexer else 0,
            )
        )

    mla = block.mla
    expanded = mla.heads * (mla.qk_head_dim + mla.v_head_dim)
    b.note(
        f"MLA caches one {mla.latent_dim}-wide latent per token and layer (kv_lora_rank + qk_rope_head_dim); "
        f"a runtime without MLA support caches the expanded keys and values instead ({expanded} per token "
        f"and layer, {expanded / mla.latent_dim:.0f}x more)"
    )
    if block.indexer:
        b.note(
            f"DeepSeek Sparse Attention: each layer's indexer also caches one {block.indexer[1]}-wide key per "
            "token (transformers' DynamicIndexedLayer) next to the MLA latent"
        )
    if block.freq > 1:
        b.note(
            "moe_layer_freq > 1: only every moe_layer_freq-th layer routes to experts (DeepSeek's rule); "
            "transformers' port ignores the field and would build experts in every layer"
        )
    if mtp:
        _note_mtp(b, cfg, block, vocab, n, mtp, copies=v.mtp_copies)
    routes = any(layer.moe for layer in b.layers)
    return b.build(
        name=name,
        hidden_size=hidden,
        vocab_size=vocab,
        n_experts=block.n_experts if routes else 0,
        n_experts_per_token=block.top_k if routes else 0,
        tied_embeddings=tied,
    )


def _nullable_int(cfg: ConfigView, key: str, default: int, *, maximum: int = LIMITS["width"]) -> int:
    """``default`` when absent, :data:`_NULL` when present as ``null``, else the bounded value.

    # NOTE: DeepSeek's own modeling code treats ``q_lora_rank``, ``n_routed_experts`` and
    # ``n_shared_experts`` set to null as "no such part" (V2-Lite: q_lora_rank null means a
    # plain q_proj), while an absent field takes transformers' default.
    """
    if key in cfg.raw and cfg.raw[key] is None:
        return _NULL
    return cfg.int(key, default, minimum=0, maximum=maximum)


def _mla(cfg: ConfigView) -> _Mla:
    heads = cfg.int("num_attention_heads", maximum=LIMITS["heads"])
    q_lora = _nullable_int(cfg, "q_lora_rank", 1536)
    if q_lora == 0:
        raise InvalidFieldError(
            "q_lora_rank", "is 0; use null for a model without a query low-rank projection"
        )
    return _Mla(
        heads=heads,
        q_lora_rank=None if q_lora == _NULL else q_lora,
        kv_lora_rank=cfg.int("kv_lora_rank", 512),
        qk_nope_head_dim=cfg.int("qk_nope_head_dim", 128, minimum=0),
        qk_rope_head_dim=cfg.int("qk_rope_head_dim", 64),
        v_head_dim=cfg.int("v_head_dim", 128),
    )


def _block(cfg: ConfigView, v: _Version, hidden: int, n: int) -> _Block:
    """Shared layer settings; the MoE fields are read only when some layer (MTP included) routes."""
    n_experts = _nullable_int(cfg, "n_routed_experts", v.n_routed_experts, maximum=LIMITS["experts"])
    block = _Block(
        hidden=hidden,
        mla=_mla(cfg),
        attn_bias=cfg.bool("attention_bias", False),
        mlp_bias=v.mlp_bias and cfg.bool("mlp_bias", False),
        router_bias=v.router_bias,
        first_dense=cfg.int(
            "first_k_dense_replace", v.first_k_dense_replace, minimum=0, maximum=LIMITS["layers"]
        ),
        freq=cfg.int("moe_layer_freq", 1, maximum=LIMITS["layers"]),
        n_experts=max(n_experts, 0),
        mlp_types=_mlp_types(cfg, v, n),
        indexer=_indexer(cfg) if v.indexer else None,
        shared_indexer=_shared_indexer_layers(cfg, n) if v.indexer else frozenset(),
    )
    if not any(block.is_moe(i) for i in range(n)):
        return block
    if cfg.raw.get("num_experts_per_tok", v.num_experts_per_tok) is None:
        # NOTE: DeepseekV2Config defaults num_experts_per_tok to None; transformers still builds every
        # expert (the weights do not depend on it), so the total is exact but "active" is not knowable.
        top_k = block.n_experts
        note = "num_experts_per_tok is null: the active figure counts every routed expert (an upper bound)"
        block = replace(block, notes=(*block.notes, note))
    else:
        top_k = cfg.int("num_experts_per_tok", v.num_experts_per_tok, maximum=LIMITS["experts"])
    if top_k > block.n_experts:
        raise InvalidFieldError(
            "num_experts_per_tok", f"is {top_k}, more than the {block.n_experts} routed experts"
        )
    moe_inter = cfg.int("moe_intermediate_size", v.moe_intermediate_size)
    n_shared = _nullable_int(cfg, "n_shared_experts", v.n_shared_experts, maximum=LIMITS["experts"])
    return replace(block, top_k=top_k, moe_inter=moe_inter, shared=max(n_shared, 0) * moe_inter)


def _mlp_types(cfg: ConfigView, v: _Version, n: int) -> tuple[str, ...]:
    """V3.2's ``mlp_layer_types`` ("dense" / "sparse"); empty when absent (first_k_dense_replace decides)."""
    if not v.indexer:
        return ()
    names = cfg.str_list("mlp_layer_types", n)
    if names is None:
        return ()
    for i, name in enumerate(names):
        if name not in ("dense", "sparse"):
            raise InvalidFieldError(f"mlp_layer_types[{i}]", f"is '{name:.40}'; expected 'dense' or 'sparse'")
    return tuple(names)


def _indexer(cfg: ConfigView) -> tuple[int, int]:
    """``(index_n_heads, index_head_dim)`` of the DSA lightning indexer, DeepseekV32Config defaults."""
    for i, name in enumerate(cfg.str_list("layer_types", num_layers(cfg)) or []):
        # NOTE: transformers remaps the legacy "deepseek_sparse_attention" to "indexed_attention".
        if name not in ("indexed_attention", "deepseek_sparse_attention"):
            raise InvalidFieldError(
                f"layer_types[{i}]", f"must be 'indexed_attention' for {cfg.architecture}"
            )
    default_heads = 32 if cfg.architecture == "glm_moe_dsa" else 64
    return cfg.int("index_n_heads", default_heads, maximum=LIMITS["heads"]), cfg.int("index_head_dim", 128)


def _shared_indexer_layers(cfg: ConfigView, n: int) -> frozenset[int]:
    """GLM-5's layers that reuse the previous layer's top-k (``indexer_types`` "shared").

    # NOTE: GlmMoeDsaConfig: ``indexer_types``, else the ``index_topk_pattern`` string (F/S), else
    # layer i is "full" when ``max(i - offset + 1, 0) % freq == 0`` (``index_topk_freq`` 1,
    # ``index_skip_topk_offset`` 2: every layer full).
    """
    types = cfg.str_list("indexer_types", n)
    if types is None:
        pattern = cfg.raw.get("index_topk_pattern")
        if isinstance(pattern, str):
            if len(pattern) != n or set(pattern) - {"F", "S"}:
                raise InvalidFieldError("index_topk_pattern", f"must be {n} letters F or S")
            types = ["full" if c == "F" else "shared" for c in pattern]
        else:
            freq = max(cfg.int("index_topk_freq", 1, maximum=LIMITS["layers"]), 1)
            offset = cfg.int("index_skip_topk_offset", 2, minimum=0, maximum=LIMITS["layers"])
            types = ["full" if max(i - offset + 1, 0) % freq == 0 else "shared" for i in range(n)]
    for i, t in enumerate(types):
        if t not in ("full", "shared"):
            raise InvalidFieldError(f"indexer_types[{i}]", "must be 'full' or 'shared'")
    return frozenset(i for i, t in enumerate(types) if t == "shared")


def _add_layer(b: SpecBuilder, cfg: ConfigView, block: _Block, i: int) -> None:
    """One decoder layer: two RMSNorms, MLA, and a dense MLP or an MoE block."""
    p, hidden = "model.layers.*", block.hidden
    b.add_norm(f"{p}.input_layernorm", hidden, i)
    b.add_norm(f"{p}.post_attention_layernorm", hidden, i)
    _add_mla(b, i, f"{p}.self_attn", hidden, block.mla, bias=block.attn_bias)
    if block.indexer and i not in block.shared_indexer:
        _add_indexer(b, i, f"{p}.self_attn.indexer", hidden, block.mla, *block.indexer)
    if not block.is_moe(i):
        add_gated_mlp(b, i, f"{p}.mlp", hidden, cfg.int("intermediate_size"), bias=block.mlp_bias)
        return
    p = f"{p}.mlp"
    b.add_linear(f"{p}.gate", Role.ROUTER, block.n_experts, hidden, i)
    if block.router_bias:
        # NOTE: transformers holds e_score_correction_bias as a persistent buffer, not a parameter;
        # it is stored in the checkpoint (float32) and loaded with the weights.
        b.add(f"{p}.gate.e_score_correction_bias", Role.BIAS, (block.n_experts,), i)
    add_routed_experts(b, i, f"{p}.experts", hidden, block.moe_inter, block.n_experts, block.top_k)
    shared, bias = block.shared, block.mlp_bias
    b.add_linear(f"{p}.shared_experts.gate_proj", Role.SHARED_EXPERT_GATE, shared, hidden, i, bias=bias)
    b.add_linear(f"{p}.shared_experts.up_proj", Role.SHARED_EXPERT_UP, shared, hidden, i, bias=bias)
    b.add_linear(f"{p}.shared_experts.down_proj", Role.SHARED_EXPERT_DOWN, hidden, shared, i, bias=bias)


def _add_mla(b: SpecBuilder, i: int, p: str, hidden: int, mla: _Mla, *, bias: bool) -> None:
    """MLA projections; ``attention_bias`` applies to q_a, kv_a and o only (as in transformers)."""
    q_out = mla.heads * mla.qk_head_dim
    if mla.q_lora_rank is None:
        b.add_linear(f"{p}.q_proj", Role.ATTN_Q, q_out, hidden, i)
    else:
        b.add_linear(f"{p}.q_a_proj", Role.ATTN_Q_A, mla.q_lora_rank, hidden, i, bias=bias)
        b.add_norm(f"{p}.q_a_layernorm", mla.q_lora_rank, i)
        b.add_linear(f"{p}.q_b_proj", Role.ATTN_Q_B, q_out, mla.q_lora_rank, i)
    b.add_linear(f"{p}.kv_a_proj_with_mqa", Role.ATTN_KV_A, mla.latent_dim, hidden, i, bias=bias)
    b.add_norm(f"{p}.kv_a_layernorm", mla.kv_lora_rank, i)
    kv_b_out = mla.heads * (mla.qk_nope_head_dim + mla.v_head_dim)
    b.add_linear(f"{p}.kv_b_proj", Role.ATTN_KV_B, kv_b_out, mla.kv_lora_rank, i)
    b.add_linear(f"{p}.o_proj", Role.ATTN_OUT, hidden, mla.heads * mla.v_head_dim, i, bias=bias)


def _add_indexer(b: SpecBuilder, i: int, p: str, hidden: int, mla: _Mla, heads: int, dim: int) -> None:
    """DSA's lightning indexer: its queries come from the MLA query latent, one shared key per token.

    # NOTE: wq_b [heads * dim, q_lora_rank], wk [dim, hidden], a LayerNorm (weight and bias) on the key,
    # weights_proj [heads, hidden]; none of them has a bias (DeepseekV32Indexer).
    """
    if mla.q_lora_rank is None:
        raise InvalidFieldError(
            "q_lora_rank", "must be set for deepseek_v32 (its indexer reads the query latent)"
        )
    b.add_linear(f"{p}.wq_b", Role.ATTN_Q_B, heads * dim, mla.q_lora_rank, i)
    b.add_linear(f"{p}.wk", Role.ATTN_K, dim, hidden, i)
    b.add_norm(f"{p}.k_norm", dim, i, bias=True)
    b.add_linear(f"{p}.weights_proj", Role.ATTN_GATE, heads, hidden, i)


def _note_mtp(
    b: SpecBuilder, cfg: ConfigView, block: _Block, vocab: int, n: int, k: int, *, copies: bool = True
) -> None:
    """Say how big the multi-token-prediction layers are that the checkpoint also holds.

    # NOTE: V3/R1 checkpoints hold ``num_nextn_predict_layers`` MTP modules as
    # ``model.layers.{n}.*``: one more decoder layer plus enorm, hnorm, eh_proj
    # [hidden, 2*hidden], shared_head.norm, and their own copies of the embedding and head.
    # transformers does not build them and drops them on load, so they are not counted.
    # DeepSeek's "671B" excludes them; the Hub's "685B" includes them. GLM-5's MTP layer has no
    # embedding or head copies (its Hub total less the model equals the layer, eh_proj and norms).
    """
    hidden = block.hidden
    scratch = SpecBuilder(cfg, "deepseek")
    for i in range(n, n + k):
        _add_layer(scratch, cfg, block, i)
    layers = scratch.build(name="mtp", hidden_size=hidden, vocab_size=vocab).total_parameters
    unique = layers + k * (3 * hidden + 2 * hidden * hidden)
    extra = f" plus {k * 2 * vocab * hidden / 1e9:.1f}B of embedding/head copies" if copies else ""
    b.note(
        f"the checkpoint also holds {k} multi-token-prediction (MTP) layer(s) (model.layers.{n}.* on): "
        f"{unique / 1e9:.1f}B parameters{extra}, which transformers does not load; they are not counted "
        "here (DeepSeek-V3's published 671B excludes them, the Hub's 685B includes them)"
    )
