"""GGUF file types (llama.cpp ``llama-quantize`` ftypes) as planner formats, tensor by tensor.

A GGUF file is made in two steps, and both decide a tensor's storage type:

1. ``convert_hf_to_gguf.py`` writes the checkpoint with llama.cpp tensor names
   (``blk.3.attn_v.weight``), merging routed experts into one 3-D tensor per layer
   (``ffn_down_exps``) and splitting DeepSeek's MLA ``kv_b_proj`` into ``attn_k_b`` and
   ``attn_v_b``. It writes F32 for 1-D tensors, norms, routers (``ffn_gate_inp``),
   position embeddings, SSM conv kernels and everything not named ``.weight``, and 16-bit
   for the rest (``ModelBase.prepare_tensors``).
2. ``llama-quantize`` visits the tensors in loader order (by layer, then by name:
   ``llama_model_loader::weight_name_comparer``), keeps what
   ``tensor_allows_quantization`` refuses, and picks a type for the rest in
   ``llama_tensor_get_type`` / ``llama_tensor_get_type_impl`` (src/llama-quant.cpp) from
   the ftype's default type (``llama_ftype_get_default_type``), the tensor's category
   (``tensor_get_category``), counters of the attn_v-like and ffn_down tensors met so
   far, GQA, the expert count and the architecture; then ``tensor_type_fallback`` swaps
   types whose block does not divide the row length.

This module ports both steps from the facts in ``data/formats/gguf.json`` and returns
exact bytes per tensor group, summing the per-layer types. :func:`gguf_tensor_types` and
:func:`gguf_tensors` expose every tensor for engines that place them one by one.

Not modelled: llama-quantize's user overrides (``--output-tensor-type``, ``--token-embedding-type``,
``--tensor-type``, ``--pure``) and hand-made mixes such as Unsloth's dynamic quants; small extra
tensors the converter adds that the planner's spec has no group for (Llama 3.1's 64-float
``rope_freqs``, Phi-3's rope factors); MTP/next-n layers. Vision towers go to the separate
mmproj file, counted in F16 (F32 vectors).

Followed version: llama.cpp master of 2026 (``tensor_category`` refactor: ``attn_qkv`` and
``attn_kv_b`` are treated like ``attn_v``). Files quantized earlier gave ``attn_qkv`` Q5_K
(Q4_K_M) / Q6_K (Q5_K_M) / Q4_K (Q3_K_M/L, IQ3_M) instead; only fused-qkv models (Phi-3,
Falcon, StarCoder) differ, by well under 1% of the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import NamedTuple

from planner.errors import PlannerError
from planner.formats.base import QuantFormat, TensorStorage, WeightsReport
from planner.formats.gguf_types import fallback_type, ggml_type, tensor_bytes
from planner.formats.registry import FormatOptions, format_data, register_format
from planner.frozen import record
from planner.memo import per_object
from planner.model.spec import ROUTED_EXPERT_ROLES, AttentionKind, ModelSpec, Role, TensorGroup

#: The ``-imatrix`` suffix: the file was quantized with an importance matrix (bartowski,
#: unsloth, mradermacher "i1" files); it changes the Q4_0/Q5_0/IQ4_*/IQ3_XXS mixes.
IMATRIX_SUFFIX = "-imatrix"

#: Cache sizes: one entry per spec (above the catalog's size, so a sweep over it never evicts what
#: the next format needs) and per (spec, file type).
_PER_SPEC, _PER_SPEC_AND_TYPE = 512, 4096

# --- llama.cpp tensor categories (src/llama-quant.cpp enum class tensor_category) -------------
OUTPUT, TOKEN_EMBD, ATTN_QKV, ATTN_KV_B, ATTN_V, ATTN_K, ATTN_Q, ATTN_OUTPUT = (
    "output",
    "token_embd",
    "attn_qkv",
    "attn_kv_b",
    "attn_v",
    "attn_k",
    "attn_q",
    "attn_output",
)
FFN_UP, FFN_GATE, FFN_DOWN, OTHER = "ffn_up", "ffn_gate", "ffn_down", "other"

#: ftypes whose output / tied embedding is Q5_K (llama_tensor_get_type_impl, output branch).
_OUTPUT_Q5K = frozenset({"IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ2_S", "IQ2_M", "IQ1_M"})
#: ftypes of the IQ1/IQ2 branch of llama_tensor_get_type_impl.
_IQ12 = frozenset({"IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ2_S", "IQ2_M", "IQ1_M"})
#: ftypes whose attn_output becomes Q5_K in 8-expert models (llama_tensor_get_type_impl).
_MOE8_ATTN_OUT_Q5K = frozenset(
    {
        "Q2_K",
        "IQ3_XS",
        "IQ3_XXS",
        "Q3_K_S",
        "Q3_K_M",
        "IQ4_NL",
        "Q4_K_S",
        "Q4_K_M",
        "IQ3_S",
        "IQ3_M",
        "IQ4_XS",
    }
)

#: Roles the converter always writes as F32 (convert_hf_to_gguf.py ModelBase.prepare_tensors:
#: 1-D tensors, ``*_norm.weight``, FFN_GATE_INP, POS_EMBD, SSM_CONV1D, names not ending ``.weight``).
_F32_ROLES = frozenset(
    {
        Role.NORM,
        Role.BIAS,
        Role.SSM_PARAM,
        Role.SSM_CONV,
        Role.ROUTER,
        Role.POSITION_EMBEDDING,
        Role.ATTN_SINKS,
    }
)
#: Roles that live in the separate multimodal projector GGUF (``--mmproj``), not the text model.
_MMPROJ_ROLES = frozenset({Role.VISION, Role.PROJECTOR})

#: llama.cpp tensor names per role (gguf-py ``gguf/constants.py`` TENSOR_NAMES, MODEL_TENSOR.*).
_ROLE_NAMES: dict[Role, str] = {
    Role.EMBEDDING: "token_embd",
    Role.LM_HEAD: "output",
    Role.POSITION_EMBEDDING: "position_embd",
    Role.ATTN_Q: "attn_q",
    Role.ATTN_K: "attn_k",
    Role.ATTN_V: "attn_v",
    Role.ATTN_QKV: "attn_qkv",
    Role.ATTN_OUT: "attn_output",
    Role.ATTN_GATE: "attn_gate",
    Role.ATTN_Q_A: "attn_q_a",
    Role.ATTN_Q_B: "attn_q_b",
    Role.ATTN_KV_A: "attn_kv_a_mqa",
    Role.ATTN_KV_B: "attn_kv_b",
    Role.ATTN_SINKS: "attn_sinks",
    Role.MLP_GATE: "ffn_gate",
    Role.MLP_UP: "ffn_up",
    Role.MLP_GATE_UP: "ffn_up",  # Phi-3 keeps the fused gate_up as ffn_up (2 x n_ff)
    Role.MLP_DOWN: "ffn_down",
    Role.ROUTER: "ffn_gate_inp",
    Role.EXPERT_GATE: "ffn_gate_exps",
    Role.EXPERT_UP: "ffn_up_exps",
    Role.EXPERT_GATE_UP: "ffn_gate_up_exps",
    Role.EXPERT_DOWN: "ffn_down_exps",
    Role.SHARED_EXPERT_GATE: "ffn_gate_shexp",
    Role.SHARED_EXPERT_UP: "ffn_up_shexp",
    Role.SHARED_EXPERT_DOWN: "ffn_down_shexp",
    Role.SHARED_EXPERT_ROUTER: "ffn_gate_inp_shexp",
    Role.SSM_IN: "ssm_in",
    Role.SSM_OUT: "ssm_out",
    Role.SSM_CONV: "ssm_conv1d",
}
#: SSM input projections named after the checkpoint tensor (gguf-py tensor_mapping.py).
_SSM_IN_NAMES = {"x_proj": "ssm_x", "dt_proj": "ssm_dt", "in_proj_ba": "ssm_ba"}
_SSM_PARAM_NAMES = {"A_log": "ssm_a", "D": "ssm_d", "dt_bias": "ssm_dt"}
#: Norm names (gguf-py tensor_mapping.py); the rest keep their checkpoint name + ``_norm``.
_NORM_NAMES = {
    "input_layernorm": "attn_norm",
    "ln_attn": "attn_norm",
    "ln_1": "attn_norm",
    "norm": "attn_norm",
    "post_attention_layernorm": "ffn_norm",
    "pre_ff_layernorm": "ffn_norm",
    "ln_mlp": "attn_norm_2",
    "ln_2": "ffn_norm",
    "q_norm": "attn_q_norm",
    "k_norm": "attn_k_norm",
    "pre_feedforward_layernorm": "ffn_norm",
    "post_feedforward_layernorm": "post_ffw_norm",
    "q_a_layernorm": "attn_q_a_norm",
    "kv_a_layernorm": "attn_kv_a_norm",
}
#: Vectors that are not a weight's bias (gguf-py MODEL_TENSOR.FFN_EXP_PROBS_B).
_VECTOR_NAMES = {"e_score_correction_bias": "exp_probs_b"}


class GgufTensorType(NamedTuple):
    """One GGUF tensor of a group: the layer it belongs to, its ggml type and its exact bytes."""

    group: TensorGroup
    layer: int | None
    ggml_type: str
    nbytes: int


class GgufTensor(NamedTuple):
    """One tensor as llama.cpp stores it (``mmproj``: in the separate multimodal projector file).

    A named tuple, not a frozen dataclass: a model has thousands and they are built per file type.
    """

    group: TensorGroup
    layer: int | None
    name: str  # llama.cpp name, e.g. "blk.3.attn_v.weight"
    ne: tuple[int, ...]  # ggml shape: ne[0] is the row length
    ggml_type: str
    nbytes: int
    mmproj: bool = False


@record
class FileType:
    """One llama.cpp file type (``--ftype`` of llama-quantize), as listed in gguf.json."""

    id: str  # planner id: "q4_k_m", "gguf-f16"
    name: str  # llama.cpp name: "Q4_K_M", "F16"
    ftype_id: int
    default_type: str
    requires_imatrix: bool
    description: str
    source: str


@cache
def file_types() -> dict[str, FileType]:
    """Every supported file type by planner id."""
    out: dict[str, FileType] = {}
    for key, row in format_data("gguf")["formats"].items():
        name = row["ftype"].removeprefix("LLAMA_FTYPE_MOSTLY_").removeprefix("LLAMA_FTYPE_ALL_")
        out[key] = FileType(
            key,
            name,
            row["ftype_id"],
            row["default_type"],
            bool(row.get("requires_imatrix", False)),
            row["description"],
            row["source"],
        )
    return out


@cache
def _aliases() -> dict[str, str]:
    return dict(format_data("gguf")["aliases"]["map"])


def file_type(ftype: str) -> tuple[FileType, bool]:
    """Parse ``q4_k_m``, ``Q4_K_M``, ``q4_k`` (alias) or ``iq4_xs-imatrix`` into (file type, imatrix)."""
    text = ftype.strip().lower()
    imatrix = text.endswith(IMATRIX_SUFFIX)
    text = text.removesuffix(IMATRIX_SUFFIX)
    text = _aliases().get(text, text)
    if text in ("f16", "bf16"):
        text = f"gguf-{text}"
    ft = file_types().get(text)
    if ft is None:
        raise PlannerError(f"unknown GGUF file type '{ftype:.40}'; known: {', '.join(file_types())}")
    return ft, imatrix or ft.requires_imatrix


# --- step 1: the tensors convert_hf_to_gguf.py writes ----------------------------------------


class _Slot(NamedTuple):
    """A tensor before its type is chosen; ``source`` is the converter's type: F32, SRC (16-bit) or MXFP4."""

    group: TensorGroup
    layer: int | None
    rest: str  # the name after its "blk.N." prefix (the whole name when ``blk`` is false)
    ne: tuple[int, ...]
    source: str
    mmproj: bool
    category: str  # src/llama-quant.cpp tensor_get_category of the name
    blk: bool  # the name starts "blk.{layer}."

    @property
    def name(self) -> str:
        """The llama.cpp tensor name (``blk.3.attn_v.weight``)."""
        return f"blk.{self.layer}.{self.rest}" if self.blk else self.rest


@lru_cache(maxsize=4096)
def _ggml_n_dims(ne: tuple[int, ...]) -> int:
    """ggml ``ggml_n_dims``: the index of the last dimension > 1, plus one (at least 1)."""
    for i in range(len(ne) - 1, 0, -1):
        if ne[i] > 1:
            return i + 1
    return 1


def _hf_leaf(group: TensorGroup) -> str:
    """The checkpoint module name of a group (``q_proj`` for ``model.layers.*.self_attn.q_proj.weight``)."""
    parts = group.name.split(".")
    if parts[-1] in ("weight", "bias"):
        parts = parts[:-1]
    return parts[-1] if parts else group.name


def _base_name(group: TensorGroup, by_name: dict[str, TensorGroup]) -> str:
    """llama.cpp base tensor name of a group (without ``blk.N.`` and the suffix).

    A bias takes the name of the weight it belongs to (``q_proj.bias`` -> ``attn_q.bias``).
    """
    role, leaf = group.role, _hf_leaf(group)
    if role is Role.BIAS:
        if leaf in _VECTOR_NAMES:
            return _VECTOR_NAMES[leaf]
        stem = group.name.removesuffix(".bias").removesuffix("_bias")
        owner = by_name.get(f"{stem}.weight") or by_name.get(stem)
        return _base_name(owner, by_name) if owner is not None and owner.role is not Role.BIAS else leaf
    if role is Role.SSM_IN:
        return _SSM_IN_NAMES.get(leaf, "ssm_in")
    if role is Role.SSM_PARAM:
        return _SSM_PARAM_NAMES.get(leaf, f"ssm_{leaf.lower()}")
    if role is Role.NORM:
        if group.name.startswith(
            ("model.norm", "transformer.ln_f", "backbone.norm_f", "model.final_layernorm")
        ):
            return "output_norm"
        if leaf.endswith("_norm"):
            return leaf
        return _NORM_NAMES.get(leaf, f"{leaf}_norm")
    return _ROLE_NAMES.get(role, leaf)


def _suffix(group: TensorGroup) -> str:
    if group.role is Role.BIAS or (group.role is Role.SSM_PARAM and _hf_leaf(group) == "dt_bias"):
        return ".bias"
    if group.role is Role.SSM_PARAM:
        return ""  # ssm_a, ssm_d: no suffix in GGUF
    return ".weight"


_MLA_ROLES = (Role.ATTN_OUT, Role.ATTN_Q, Role.ATTN_Q_B, Role.ATTN_KV_A)


def _mla_groups(spec: ModelSpec) -> dict[int | None, dict[Role, list[TensorGroup]]]:
    """Per layer: its o_proj, query and kv_a groups, in spec order (what :func:`_mla_split` reads)."""
    out: dict[int | None, dict[Role, list[TensorGroup]]] = {}
    for g in spec.tensors:
        if g.role in _MLA_ROLES:
            for layer in g.layers:
                out.setdefault(layer, {}).setdefault(g.role, []).append(g)
    return out


def _mla_split(group: TensorGroup, found: dict[Role, list[TensorGroup]]) -> tuple[int, int, int, int] | None:
    """DeepSeek MLA ``kv_b_proj`` geometry ``(heads, qk_nope, v_head_dim, kv_lora_rank)`` from its layer.

    From the layer's ``o_proj`` (``[hidden, H*v]``), query (``[H*(nope+rope), *]``) and
    ``kv_a_proj_with_mqa`` (``[rank+rope, hidden]``) in ``found`` (:func:`_mla_groups`):
    ``H*nope = kv_b_out - o_in``, ``rope = kv_a_out - rank``, ``H = (q_out - H*nope) / rope``.
    """
    kv_b_out, rank = group.shape
    # NOTE: DeepSeek-V3.2 and GLM-5 layers hold a second query projection (the DSA indexer's wq_b): the
    # attention's own is the one whose shape gives a consistent split.
    queries = found.get(Role.ATTN_Q_B) or found.get(Role.ATTN_Q) or []
    outs, kv_as = found.get(Role.ATTN_OUT), found.get(Role.ATTN_KV_A)
    if not queries or not outs or not kv_as:
        return None
    o_in, rope = outs[-1].shape[1], kv_as[-1].shape[0] - rank
    h_nope = kv_b_out - o_in
    if rope <= 0 or h_nope <= 0:
        return None
    for q in queries:
        q_out = q.shape[0]
        if q_out <= h_nope or (q_out - h_nope) % rope:
            continue
        heads = (q_out - h_nope) // rope
        if h_nope % heads or o_in % heads:
            continue
        return heads, h_nope // heads, o_in // heads, rank
    return None


@per_object(maxsize=_PER_SPEC)
def _slots(spec: ModelSpec) -> tuple[_Slot, ...]:
    """Every tensor the converter writes, in llama.cpp loader order (built once per spec; never mutated)."""
    native_mxfp4 = spec.architecture == "gpt_oss"
    by_name = {g.name: g for g in spec.tensors}
    # tensor_get_category tests substrings that never reach into a "blk.N." prefix: one answer per name
    categories: dict[tuple[bool, str], str] = {}
    # llama_model_loader's order (weight_name_comparer: by layer, -1 for global tensors, then by name),
    # built per layer: insertion order within a layer keeps a stable sort's order for equal names.
    by_layer: dict[int, list[_Slot]] = {}
    mmproj: list[_Slot] = []
    new = tuple.__new__
    mla_groups: dict[int | None, dict[Role, list[TensorGroup]]] | None = None

    def category(blk: bool, rest: str) -> str:
        found = categories.get((blk, rest))
        if found is None:
            found = categories[(blk, rest)] = _category(f"blk.0.{rest}" if blk else rest)
        return found

    for g in spec.tensors:
        layers: tuple[int | None, ...] = g.layers or (None,)
        per_layer = g.count // len(layers)
        merged = per_layer > 1 and (g.role in ROUTED_EXPERT_ROLES or g.active_fraction != (1, 1))
        copies = 1 if merged else per_layer
        ne = tuple(reversed(g.shape)) + ((per_layer,) if merged else ())
        if g.role in _MMPROJ_ROLES:
            # convert_hf_to_gguf.py --mmproj: F16 weights, F32 vectors and position embeddings (V_ENC_EMBD_POS)
            source = "F32" if len(g.shape) <= 1 or "position_embedding" in g.name else "SRC"
            rest = f"mmproj:{g.name}"
            cat = category(False, rest)
            for layer in layers:
                mmproj.extend(
                    new(_Slot, (g, layer, rest, ne, source, True, cat, False)) for _ in range(copies)
                )
            continue
        base, suffix = _base_name(g, by_name), _suffix(g)
        if g.role in _F32_ROLES or len(g.shape) <= 1 or suffix != ".weight":
            source = "F32"
        elif native_mxfp4 and g.role in ROUTED_EXPERT_ROLES:
            source = "MXFP4"
        else:
            source = "SRC"
        names = [f"{base}.{k}{suffix}" for k in range(copies)] if copies > 1 else [f"{base}{suffix}"]
        kv_b = g.role is Role.ATTN_KV_B
        if kv_b and mla_groups is None:
            mla_groups = _mla_groups(spec)
        if not kv_b and len(names) == 1 and layers[0] is not None:
            # the common case: one tensor per layer
            name = names[0]
            cat = category(True, name)
            for layer in layers:
                bucket = by_layer.get(layer)
                if bucket is None:
                    bucket = by_layer[layer] = []
                bucket.append(new(_Slot, (g, layer, name, ne, source, False, cat, True)))
            continue
        named: dict[bool, list[tuple[str, str]]] = {}
        for layer in layers:
            blk = layer is not None
            bucket = by_layer.setdefault(layer if blk else -1, [])
            if kv_b and (mla := _mla_split(g, mla_groups.get(layer, {}))):
                heads, nope, v_dim, rank = mla
                # convert_hf_to_gguf.py DeepseekV2Model.modify_tensors: kv_b split for MLA absorption,
                # k_b transposed -> ggml ne [nope, rank, heads]; v_b -> ne [rank, v_dim, heads].
                for rest, shape in (
                    ("attn_k_b.weight", (nope, rank, heads)),
                    ("attn_v_b.weight", (rank, v_dim, heads)),
                ):
                    bucket.append(
                        new(_Slot, (g, layer, rest, shape, source, False, category(blk, rest), blk))
                    )
                continue
            pairs = named.get(blk)
            if pairs is None:
                pairs = named[blk] = [(name, category(blk, name)) for name in names]
            bucket.extend(new(_Slot, (g, layer, name, ne, source, False, cat, blk)) for name, cat in pairs)
        if g.role is Role.EMBEDDING and spec.tied_embeddings and spec.family == "falcon":
            # Falcon checkpoints store lm_head.weight (a copy of the tied embedding) and
            # convert_hf_to_gguf.py FalconModel writes it as output.weight.
            rest = "output.weight"
            by_layer.setdefault(-1, []).append(
                new(_Slot, (g, None, rest, ne, "SRC", False, category(False, rest), False))
            )
    out: list[_Slot] = []
    for layer in sorted(by_layer):
        out.extend(sorted(by_layer[layer], key=_rest))
    return (*out, *mmproj)


def _rest(s: _Slot) -> str:
    return s.rest


def _category(name: str) -> str:
    """src/llama-quant.cpp tensor_get_category (substring tests, in the same order)."""
    if name == "output.weight":
        return OUTPUT
    if name in ("token_embd.weight", "per_layer_token_embd.weight"):
        return TOKEN_EMBD
    for needle, cat in (
        ("attn_qkv.weight", ATTN_QKV),
        ("attn_kv_b.weight", ATTN_KV_B),
        ("attn_v.weight", ATTN_V),
        ("attn_k.weight", ATTN_K),
        ("attn_q.weight", ATTN_Q),
        ("attn_output.weight", ATTN_OUTPUT),
        ("ffn_up", FFN_UP),
        ("ffn_gate", FFN_GATE),
        ("ffn_down", FFN_DOWN),
    ):
        if needle in name:
            return cat
    return OTHER


_ATTN_V_LIKE = frozenset({ATTN_V, ATTN_QKV, ATTN_KV_B})


def _is_attn_v(cat: str) -> bool:
    """src/llama-quant.cpp category_is_attn_v."""
    return cat in _ATTN_V_LIKE


#: Categories whose type depends on llama-quantize's running counters (attn_v, ffn_down, ffn_gate, ffn_up).
_COUNTED = frozenset({ATTN_V, ATTN_QKV, ATTN_KV_B, FFN_DOWN, FFN_GATE, FFN_UP})


# --- step 2: llama-quantize -------------------------------------------------------------------


@dataclass(slots=True)
class _Model:
    """The hparams llama_tensor_get_type_impl reads."""

    n_layer: int
    n_expert: int
    n_gqa: int
    falcon: bool
    type_70b: bool


@dataclass(slots=True)
class _State:
    """src/llama-quant.cpp quantize_state_impl: counters advanced as tensors are met."""

    n_attention_wv: int
    n_ffn_down: int
    has_tied_embeddings: bool
    has_imatrix: bool
    i_attention_wv: int = 0
    i_ffn_down: int = 0
    i_ffn_gate: int = 0
    i_ffn_up: int = 0
    notes: list[str] = field(default_factory=list)


def _n_heads(spec: ModelSpec, layer: int) -> tuple[int, int] | None:
    """(query heads, kv heads) of one attention layer, from its q or fused qkv projection."""
    ls = spec.layers[layer] if layer < len(spec.layers) else None
    if ls is None or ls.attention not in (AttentionKind.FULL, AttentionKind.SLIDING) or not ls.k_head_dim:
        return None
    for g in spec.tensors:
        if layer not in g.layers:
            continue
        if g.role is Role.ATTN_Q:
            return g.shape[0] // ls.k_head_dim, ls.kv_heads
        if g.role is Role.ATTN_QKV:
            return g.shape[0] // ls.k_head_dim - 2 * ls.kv_heads, ls.kv_heads
    return None


def _model(spec: ModelSpec) -> _Model:
    """llama.cpp hparams: n_gqa() of layer 0, n_expert, and the FALCON / LLM_TYPE_70B switches."""
    heads = _n_heads(spec, 0) if spec.layers else None
    if heads is None and spec.architecture == "qwen3_next":
        # Qwen3-Next writes one head_count_kv for all layers (layer 0 is linear attention).
        first = next((ls.index for ls in spec.layers if ls.attention is AttentionKind.FULL), None)
        heads = _n_heads(spec, first) if first is not None else None
    # llama_hparams::n_gqa(il = 0): n_head / n_head_kv, 0 when layer 0 has no kv heads (Jamba, Granite-H).
    n_gqa = heads[0] // heads[1] if heads and heads[1] else 0
    n_layer = spec.num_layers
    # src/llama-model.cpp load_hparams: LLM_ARCH_LLAMA 80 layers with GQA -> LLM_TYPE_70B (not for
    # n_expert == 8), LLM_ARCH_QWEN2 80 layers -> LLM_TYPE_70B.
    llama_arch = spec.architecture in ("llama", "mistral") and spec.n_experts != 8
    type_70b = (llama_arch and n_layer == 80 and n_gqa > 1) or (
        spec.architecture == "qwen2" and n_layer == 80
    )
    return _Model(
        n_layer=n_layer,
        n_expert=spec.n_experts,
        n_gqa=n_gqa,
        falcon=spec.family == "falcon",
        type_70b=type_70b,
    )


def _use_more_bits(i_layer: int, n_layers: int) -> bool:
    """src/llama-quant.cpp llama_tensor_get_type_impl ``use_more_bits`` (about half the layers)."""
    return i_layer < n_layers // 8 or i_layer >= 7 * n_layers // 8 or (i_layer - n_layers // 8) % 3 == 2


def _layer_info(m: _Model, s: _Slot, counter: int, n_layer: int) -> tuple[int, int]:
    """llama_tensor_get_type_impl ``layer_info``: MoE models parse the layer from the tensor name
    (``blk.%d.``); the others count the tensors met so far."""
    if m.n_expert > 1:
        if s.layer is None:
            raise PlannerError(f"Failed to determine layer for tensor {s.name}")
        return s.layer, n_layer
    return counter, n_layer


def _impl(m: _Model, st: _State, new_type: str, s: _Slot, ftype: str) -> str:
    """Port of src/llama-quant.cpp ``llama_tensor_get_type_impl`` (no user overrides)."""
    cat = s.category

    if cat == OUTPUT or (st.has_tied_embeddings and cat == TOKEN_EMBD):
        nx, qk = s.ne[0], ggml_type(new_type).block_size
        if ftype == "MXFP4_MOE" or m.falcon or nx % qk:
            return "Q8_0"
        if ftype in _OUTPUT_Q5K:
            return "Q5_K"
        return new_type if new_type == "Q8_0" else "Q6_K"
    if ftype == "MXFP4_MOE":
        # MoE tensors (3-D with ne[2] > 1) -> MXFP4, everything else -> Q8_0.
        return "MXFP4" if len(s.ne) > 2 and s.ne[2] > 1 else "Q8_0"
    if cat == TOKEN_EMBD:
        if ftype in ("IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ1_M"):
            return "Q2_K"
        if ftype in ("IQ2_S", "IQ2_M", "IQ3_XXS"):
            return "IQ3_S"
        return new_type
    if ftype in _IQ12:
        iq2sm = ftype in ("IQ2_S", "IQ2_M")
        if _is_attn_v(cat):
            new_type = "Q4_K" if m.n_gqa >= 4 or m.n_expert >= 4 else ("IQ3_S" if iq2sm else "Q2_K")
            st.i_attention_wv += 1
        elif m.n_expert == 8 and cat == ATTN_K:
            new_type = "Q4_K"
        elif cat == FFN_DOWN:
            if st.i_ffn_down < st.n_ffn_down // 8:
                new_type = "IQ3_S" if iq2sm else "Q2_K"
            st.i_ffn_down += 1
        elif cat == ATTN_OUTPUT:
            if m.n_expert == 8:
                new_type = "Q5_K"
            elif ftype in ("IQ1_S", "IQ1_M"):
                new_type = "IQ2_XXS"
            elif iq2sm:
                new_type = "IQ3_S"
        return new_type
    if _is_attn_v(cat):
        i, n, gqa = st.i_attention_wv, st.n_attention_wv, m.n_gqa
        if ftype == "Q2_K":
            new_type = "Q4_K" if gqa >= 4 else "Q3_K"
        elif ftype == "Q2_K_S" and gqa >= 4:
            new_type = "Q4_K"
        elif ftype == "IQ3_XXS":
            new_type = "Q4_K" if gqa >= 4 else ("IQ3_S" if not st.has_imatrix else "IQ3_XXS")
        elif (ftype in ("IQ3_XS", "IQ3_S") and gqa >= 4) or ftype == "IQ3_M":
            new_type = "Q4_K"
        elif ftype == "Q3_K_M":
            new_type = "Q5_K" if i < 2 else "Q4_K"
        elif ftype == "Q3_K_L" or (ftype in ("IQ4_NL", "IQ4_XS") and gqa >= 4):
            new_type = "Q5_K"
        elif ftype in ("Q4_K_M", "Q5_K_M") and _use_more_bits(i, n):
            new_type = "Q6_K"
        elif ftype == "Q4_K_S" and i < 4:
            new_type = "Q5_K"
        if m.type_70b and new_type in ("Q3_K", "Q4_K"):
            # 8 heads share attn_v in the 70B models: more bits for a nearly free size increase.
            new_type = "Q5_K"
        if m.n_expert == 8:
            new_type = "Q8_0"
        st.i_attention_wv += 1
        return new_type
    if cat == ATTN_K:
        if m.n_expert == 8:
            return "Q8_0"
        if ftype == "IQ3_XS":
            return "IQ3_XXS"
        if ftype == "IQ3_XXS":
            return "IQ2_S"
        return new_type
    if cat == ATTN_Q:
        if ftype == "IQ3_XS":
            return "IQ3_XXS"
        if ftype == "IQ3_XXS":
            return "IQ2_S"
        return new_type
    if cat == FFN_DOWN:
        i, n = _layer_info(m, s, st.i_ffn_down, st.n_ffn_down)
        umb = _use_more_bits(i, n)
        if ftype == "Q2_K":
            new_type = "Q3_K"
        elif ftype == "Q2_K_S":
            if i < n // 8:
                new_type = "Q4_K"
        elif ftype == "IQ3_XXS" and not st.has_imatrix:
            new_type = "Q4_K" if i < n // 8 else "Q3_K"
        elif ftype == "Q3_K_M":
            new_type = "Q5_K" if i < n // 16 else ("Q4_K" if not m.falcon or umb else "Q3_K")
        elif ftype == "IQ3_M" and (i < n // 8 or (m.n_expert == 8 and umb)):
            new_type = "Q4_K"
        elif ftype == "Q3_K_L":
            new_type = "Q4_K" if m.falcon else "Q5_K"
        elif ftype == "Q4_K_M":
            if m.falcon:
                new_type = "Q6_K" if i < n // 16 else ("Q5_K" if umb else "Q4_K")
            elif umb:
                new_type = "Q6_K"
        elif i < n // 8 and ftype in ("IQ4_NL", "IQ4_XS") and not st.has_imatrix:
            new_type = "Q5_K"
        elif ftype == "Q5_K_M" and umb:
            new_type = "Q6_K"
        elif ftype == "Q4_K_S" and not m.falcon and i < n // 8:
            new_type = "Q5_K"
        elif ftype in ("Q4_0", "Q5_0") and st.has_imatrix and i < n // 8:
            new_type = "Q4_1" if ftype == "Q4_0" else "Q5_1"
        st.i_ffn_down += 1
        return new_type
    if cat == ATTN_OUTPUT:
        if not m.falcon:
            if m.n_expert == 8:
                if ftype in _MOE8_ATTN_OUT_Q5K:
                    new_type = "Q5_K"
            else:
                new_type = {
                    "Q2_K": "Q3_K",
                    "IQ3_XXS": "IQ3_S",
                    "Q3_K_M": "Q4_K",
                    "Q3_K_L": "Q5_K",
                    "IQ3_M": "Q4_K",
                }.get(ftype, new_type)
        elif ftype == "Q3_K_L":
            new_type = "Q4_K"
        return new_type
    if cat in (FFN_GATE, FFN_UP):
        counter = st.i_ffn_gate if cat == FFN_GATE else st.i_ffn_up
        i, n = _layer_info(m, s, counter, st.n_ffn_down)
        if ftype == "IQ3_XS" and n // 8 <= i < 7 * n // 8:
            new_type = "IQ3_XXS"
        if cat == FFN_GATE:
            st.i_ffn_gate += 1
        else:
            st.i_ffn_up += 1
        return new_type
    return new_type


@per_object(maxsize=_PER_SPEC)
def _counts(spec: ModelSpec) -> tuple[int, bool]:
    """init_quantize_state_counters: attn_v-like tensors of the text model, and whether it has no output."""
    text = [s for s in _slots(spec) if not s.mmproj]
    return sum(1 for s in text if s.category in _ATTN_V_LIKE), not any(s.category == OUTPUT for s in text)


class _Layout(NamedTuple):
    """:func:`_slots` gathered for llama-quantize, made once per spec.

    A tensor's (type, bytes) follows from its *key* (category, shape, source, mmproj) and the file
    type alone, except for the tensors llama-quantize's running counters decide (``counted`` keys,
    when quantizing). Those are typed per *class*: the tensors of one key whose counter (and, for
    MoE models, layer) pass the same tests in ``llama_tensor_get_type_impl`` (:func:`_position`).
    So each key is typed once, and each class once, with its first tensor's counter.
    """

    keys: tuple[_Slot, ...]  # the first slot of each distinct key, in slot order
    key_of: tuple[int, ...]  # per slot: the index of its key
    members: tuple[tuple[int, ...], ...]  # per key: the indices of its slots
    counted: tuple[bool, ...]  # per key: its type depends on the quantize state's counters
    counted_slots: tuple[int, ...]  # the slots of counted keys, in loader order
    groups: tuple[TensorGroup, ...]  # the spec's groups, in the order of their first slot
    group_mmproj: tuple[bool, ...]  # per group: its tensors sit in the mmproj file
    group_of: tuple[int, ...]  # per slot: the index of its group
    cells: tuple[tuple[int, int, int, int], ...]  # (group, key, first slot, slots) per group and key
    classes: tuple[tuple[int, int], ...]  # per class: (first slot, its counter value when met), in slot order
    class_of: tuple[int, ...]  # per counted slot (as in counted_slots): the index of its class
    class_members: tuple[tuple[int, ...], ...]  # per class: the indices of its slots
    class_cells: tuple[
        tuple[int, int, int, int], ...
    ]  # (group, class, first slot, slots) per group and class


@lru_cache(maxsize=65536)
def _position(i: int, n: int) -> int:
    """Every test ``llama_tensor_get_type_impl`` applies to a counter or layer ``i`` of ``n``, as bits: ``i < 2``,
    ``i < 4`` (attn_v), ``i < n/16``, ``i < n/8``, ``i >= 7n/8`` and ``use_more_bits``' ``(i - n/8) % 3 == 2``."""
    tests = (i < 2, i < 4, i < n // 16, i < n // 8, i >= 7 * n // 8, (i - n // 8) % 3 == 2)
    return sum(1 << bit for bit, passed in enumerate(tests) if passed)


@per_object(maxsize=_PER_SPEC)
def _layout(spec: ModelSpec) -> _Layout:
    slots = _slots(spec)
    key_index: dict[tuple, int] = {}
    group_index: dict[int, int] = {}
    keys: list[_Slot] = []
    members: list[list[int]] = []
    groups: list[TensorGroup] = []
    group_mmproj: list[bool] = []
    key_of: list[int] = []
    group_of: list[int] = []
    cells: dict[tuple[int, int], list[int]] = {}
    # A group's slots of one name share their key (shape, source and category follow from the group
    # and the name): look the key and the group up once per (group, name), not per slot.
    templates: dict[tuple[int, str], tuple[int, int, list[int], list[int]]] = {}
    for i, s in enumerate(slots):
        found = templates.get((id(s[0]), s[2]))
        if found is None:
            group, _, rest, ne, source, mmproj, category, _ = s
            k = key_index.get(key := (category, ne, source, mmproj))
            if k is None:
                k = key_index[key] = len(keys)
                keys.append(s)
                members.append([])
            g = group_index.get(id(group))
            if g is None:
                g = group_index[id(group)] = len(groups)
                groups.append(group)
                group_mmproj.append(mmproj)
            cell = cells.get((g, k))
            if cell is None:
                cell = cells[(g, k)] = [i, 0]
            found = templates[(id(group), rest)] = (k, g, members[k], cell)
        k, g, member, cell = found
        member.append(i)
        key_of.append(k)
        group_of.append(g)
        cell[1] += 1
    counted = tuple(
        s.category in _COUNTED and not s.mmproj and s.source == "SRC" and _ggml_n_dims(s.ne) >= 2
        for s in keys
    )
    counted_slots = tuple(i for i, k in enumerate(key_of) if counted[k])
    # The counters each counted tensor advances (quantize_state_impl: i_attention_wv for attn_v-like
    # tensors, i_ffn_down / i_ffn_gate / i_ffn_up), their totals, and (MoE) the layer layer_info reads.
    m = _model(spec)
    n_wv, _ = _counts(spec)
    n_ffn, moe = m.n_layer, m.n_expert > 1
    met = {ATTN_V: 0, FFN_DOWN: 0, FFN_GATE: 0, FFN_UP: 0}
    class_index: dict[tuple, int] = {}
    classes: list[tuple[int, int]] = []
    class_of: list[int] = []
    class_members: list[list[int]] = []
    class_cells: dict[tuple[int, int], list[int]] = {}
    for i in counted_slots:
        _, layer, _, _, _, _, category, _ = slots[i]
        counter = ATTN_V if category in _ATTN_V_LIKE else category
        c = met[counter]
        met[counter] = c + 1
        where = (-1 if layer is None else _position(layer, n_ffn)) if moe else 0
        sig = (key_of[i], _position(c, n_wv if counter == ATTN_V else n_ffn), where)
        cls = class_index.get(sig)
        if cls is None:
            cls = class_index[sig] = len(classes)
            classes.append((i, c))
            class_members.append([])
        class_of.append(cls)
        class_members[cls].append(i)
        cell = class_cells.get((group_of[i], cls))
        if cell is None:
            class_cells[(group_of[i], cls)] = [i, 1]
        else:
            cell[1] += 1
    return _Layout(
        keys=tuple(keys),
        key_of=tuple(key_of),
        members=tuple(tuple(m) for m in members),
        counted=counted,
        counted_slots=counted_slots,
        groups=tuple(groups),
        group_mmproj=tuple(group_mmproj),
        group_of=tuple(group_of),
        cells=tuple((g, k, first, n) for (g, k), (first, n) in cells.items()),
        classes=tuple(classes),
        class_of=tuple(class_of),
        class_members=tuple(tuple(m) for m in class_members),
        class_cells=tuple((g, c, first, n) for (g, c), (first, n) in class_cells.items()),
    )


class _Assignment(NamedTuple):
    """What llama-quantize gives the tensors of :func:`_layout` under one file type."""

    by_key: tuple[tuple[str, int] | None, ...]  # per key: (type, bytes of one tensor); None: counted
    by_class: tuple[tuple[str, int], ...]  # per counted class: (type, bytes of one tensor)
    notes: tuple[str, ...]


def _assign(spec: ModelSpec, ft: FileType, imatrix: bool) -> _Assignment:
    """The type llama-quantize gives each tensor of :func:`_slots` under ``ft``, its bytes, and notes."""
    layout = _layout(spec)
    slots = _slots(spec)
    m = _model(spec)
    n_attention_wv, has_tied_embeddings = _counts(spec)

    def state() -> _State:
        return _State(
            n_attention_wv=n_attention_wv,
            n_ffn_down=m.n_layer,  # init_quantize_state_counters: n_ffn_down = n_ffn_gate = n_ffn_up = n_layer
            has_tied_embeddings=has_tied_embeddings,
            has_imatrix=imatrix,
        )

    st = state()
    default = ft.default_type
    src16 = "BF16" if default == "BF16" else "F16"
    quantizing = ggml_type(default).quantized
    unfit_at: list[
        tuple[int, str]
    ] = []  # (slot, the type whose rows do not fit, with no fallback in llama.cpp)
    # Tensors of the other categories never read or advance the counters: one answer per key.
    by_key: list[tuple[str, int] | None] = []
    for k, s in enumerate(layout.keys):
        if quantizing and layout.counted[k]:
            by_key.append(None)
            continue
        unfit = None
        if s.mmproj:
            t = "F32" if s.source == "F32" else "F16"  # convert_hf_to_gguf.py --mmproj default outtype f16
        elif s.source == "F32":
            t = "F32"
        elif s.source == "MXFP4":
            # gpt-oss: the converter keeps the checkpoint's MXFP4 experts; llama-quantize refuses to
            # requantize an already quantized tensor without --allow-requantize.
            t = "MXFP4"
        elif _ggml_n_dims(s.ne) < 2:
            # tensor_allows_quantization: only 2-D and 3-D tensors are quantized.
            t = src16
        elif not quantizing:
            t = default
        else:
            t = _impl(m, st, default, s, ft.name)
            fitted = fallback_type(t, s.ne[0])
            if fitted is None:
                unfit, fitted = t, "F16"
            t = fitted
        by_key.append((t, tensor_bytes(t, s.ne)))
        if unfit is not None:
            unfit_at.extend((i, unfit) for i in layout.members[k])
    # The counted ones (attn_v-like, ffn_down/gate/up): once per class, with the counter its first
    # tensor meets (llama-quantize advances the counters tensor by tensor, in loader order).
    by_class: list[tuple[str, int]] = []
    if quantizing:
        name = ft.name
        for cls, (i, c) in enumerate(layout.classes):
            s = slots[i]
            st = state()
            if s.category in _ATTN_V_LIKE:
                st.i_attention_wv = c
            elif s.category == FFN_DOWN:
                st.i_ffn_down = c
            elif s.category == FFN_GATE:
                st.i_ffn_gate = c
            else:
                st.i_ffn_up = c
            t = _impl(m, st, default, s, name)
            fitted = fallback_type(t, s.ne[0])
            if fitted is None:
                unfit_at.extend((j, t) for j in layout.class_members[cls])
                fitted = "F16"
            by_class.append((fitted, tensor_bytes(fitted, s.ne)))
    notes = (
        f"{slots[i].name}: rows of {slots[i].ne[0]} are not whole {unfit} blocks and llama.cpp defines no "
        "fallback (llama-quantize stops); counted as F16"
        for i, unfit in sorted(unfit_at)
    )
    return _Assignment(tuple(by_key), tuple(by_class), tuple(dict.fromkeys(notes)))


@per_object(maxsize=_PER_SPEC_AND_TYPE)
def _assigned(spec: ModelSpec, ftype_id: str, imatrix: bool) -> _Assignment:
    return _assign(spec, file_types()[ftype_id], imatrix)


@per_object(maxsize=_PER_SPEC_AND_TYPE)
def _typed(
    spec: ModelSpec, ftype_id: str, imatrix: bool
) -> tuple[tuple[str, ...], tuple[int, ...], tuple[str, ...]]:
    """Per tensor of :func:`_slots`: its type and bytes; and the notes."""
    layout, done = _layout(spec), _assigned(spec, ftype_id, imatrix)
    per_slot = [done.by_key[k] for k in layout.key_of]
    if done.by_class:
        for i, cls in zip(layout.counted_slots, layout.class_of, strict=True):
            per_slot[i] = done.by_class[cls]
    return tuple(t for t, _ in per_slot), tuple(n for _, n in per_slot), done.notes


@per_object(maxsize=64)
def _plan(spec: ModelSpec, ftype_id: str, imatrix: bool) -> tuple[tuple[GgufTensor, ...], tuple[str, ...]]:
    types, sizes, notes = _typed(spec, ftype_id, imatrix)
    tensors = tuple(
        GgufTensor(s.group, s.layer, s.name, s.ne, t, n, s.mmproj)
        for s, t, n in zip(_slots(spec), types, sizes, strict=True)
    )
    return tensors, notes


@per_object(maxsize=_PER_SPEC_AND_TYPE)
def _by_group(
    spec: ModelSpec, ftype_id: str, imatrix: bool
) -> dict[int, tuple[tuple[tuple[str, int], ...], int, bool]]:
    """Per group (by ``id()``: the spec's own group objects, no hashing): how many of its tensors get
    each type (in order of first appearance), their bytes, and whether they sit in the mmproj file."""
    layout, done = _layout(spec), _assigned(spec, ftype_id, imatrix)
    seen: list[dict[str, list[int]]] = [{} for _ in layout.groups]  # type -> [first slot, tensors]
    total = [0] * len(layout.groups)
    # (group, (type, bytes of one tensor), first slot, tensors): per key, then per counted class
    typed = [(g, done.by_key[k], first, n) for g, k, first, n in layout.cells if done.by_key[k] is not None]
    if done.by_class:
        typed += [(g, done.by_class[cls], first, n) for g, cls, first, n in layout.class_cells]
    for g, (t, nbytes), first, n in typed:
        entry = seen[g].get(t)
        if entry is None:
            seen[g][t] = [first, n]
        else:
            if first < entry[0]:
                entry[0] = first
            entry[1] += n
        total[g] += nbytes * n
    out = {}
    for g, group in enumerate(layout.groups):
        counts = tuple((t, n) for t, (_, n) in sorted(seen[g].items(), key=lambda item: item[1][0]))
        out[id(group)] = (counts, total[g], layout.group_mmproj[g])
    return out


@per_object(maxsize=_PER_SPEC)
def _layout_facts(spec: ModelSpec) -> tuple[bool, bool, bool]:
    """What the converter's tensor list holds, whatever the file type: an mmproj part, an
    ``output.weight`` copy of the tied embedding, MLA's split ``attn_k_b``."""
    slots = _slots(spec)
    return (
        any(t.mmproj for t in slots),
        any(not t.blk and t.rest == "output.weight" and t.group.role is Role.EMBEDDING for t in slots),
        any(t.rest.endswith("attn_k_b.weight") for t in slots),
    )


def gguf_tensors(spec: ModelSpec, ftype: str, *, imatrix: bool | None = None) -> list[GgufTensor]:
    """Every tensor of ``spec`` in a GGUF of ``ftype`` (``q4_k_m``...), in llama.cpp loader order.

    ``imatrix`` says whether the file was quantized with an importance matrix (default: only
    when the ftype requires one, or when ``ftype`` ends in ``-imatrix``). Tensors of the vision
    tower and projector come last with ``mmproj=True``: they live in the separate projector file.
    """
    ft, wants = file_type(ftype)
    return list(_plan(spec, ft.id, wants if imatrix is None else imatrix or ft.requires_imatrix)[0])


def gguf_tensor_types(spec: ModelSpec, ftype: str, *, imatrix: bool | None = None) -> list[GgufTensorType]:
    """``(group, layer index or None, ggml type name, bytes)`` for every tensor, for engines' placement.

    Tensors of ``Role.VISION`` / ``Role.PROJECTOR`` groups belong to the separate mmproj file.
    A group can yield several tensors per layer (DeepSeek's kv_b_proj: attn_k_b and attn_v_b;
    Falcon's tied embedding: token_embd and its output.weight copy).
    """
    return [
        GgufTensorType(t.group, t.layer, t.ggml_type, t.nbytes)
        for t in gguf_tensors(spec, ftype, imatrix=imatrix)
    ]


@lru_cache(maxsize=128)
def _quantized(type_name: str) -> bool:
    return ggml_type(type_name).quantized


def _label(counts: tuple[tuple[str, int], ...]) -> str:
    """``Q4_K`` when uniform, else ``Q4_K×20 + Q6_K×12`` (tensors per type, in order of first appearance)."""
    if len(counts) == 1:
        return counts[0][0]
    return " + ".join(f"{t}×{n}" for t, n in counts)


class GgufFormat(QuantFormat):
    """One llama.cpp file type; storage per group sums the types llama-quantize gives each layer."""

    family = "gguf"
    engines = ("llama.cpp",)

    def __init__(self, ft: FileType, imatrix: bool) -> None:
        self.file_type = ft
        self.imatrix = imatrix or ft.requires_imatrix
        self.id = ft.id + (IMATRIX_SUFFIX if imatrix and not ft.requires_imatrix else "")
        self.description = ft.description + (" (with an importance matrix)" if self.imatrix else "")
        self.source = ft.source
        self.nominal_bits = ggml_type(ft.default_type).bits_per_weight

    def _plan(self, spec: ModelSpec) -> tuple[tuple[GgufTensor, ...], tuple[str, ...]]:
        return _plan(spec, self.file_type.id, self.imatrix)

    def storage(self, group: TensorGroup, spec: ModelSpec) -> TensorStorage:
        return self._storage(group, _by_group(spec, self.file_type.id, self.imatrix).get(id(group)))

    def build_weights(self, spec: ModelSpec) -> WeightsReport:
        by_group = _by_group(spec, self.file_type.id, self.imatrix)
        storages = tuple(self._storage(g, by_group.get(id(g))) for g in spec.tensors)
        return WeightsReport(self.id, storages, self.notes(spec))

    @staticmethod
    def _storage(
        group: TensorGroup, entry: tuple[tuple[tuple[str, int], ...], int, bool] | None
    ) -> TensorStorage:
        if entry is None:
            raise PlannerError(f"no GGUF tensor for {group.name}")
        counts, nbytes, mmproj = entry
        label = _label(counts)
        if mmproj:
            label += " (mmproj file)"
        quantized = any(_quantized(t) for t, _ in counts)
        return TensorStorage(group, label, nbytes, quantized)

    def notes(self, spec: ModelSpec) -> tuple[str, ...]:
        notes = _assigned(spec, self.file_type.id, self.imatrix).notes
        mmproj, output_copy, k_b_split = _layout_facts(spec)
        out = list(notes)
        if mmproj:
            out.append(
                "vision tower and projector: llama.cpp keeps them in a separate mmproj GGUF (F16 here), "
                "not quantized with the text model"
            )
        if output_copy:
            out.append(
                "the GGUF also stores the checkpoint's lm_head copy of the tied embedding as output.weight"
            )
        if spec.architecture == "gpt_oss" and self.file_type.default_type != "MXFP4":
            out.append(
                "gpt-oss experts stay MXFP4 as in the checkpoint (llama-quantize does not requantize them)"
            )
        if k_b_split:
            out.append(
                "MLA kv_b_proj is stored split as attn_k_b/attn_v_b (convert_hf_to_gguf since 2025); "
                "older DeepSeek GGUFs hold attn_kv_b instead"
            )
        return tuple(out)


@cache
def _format(ftype_id: str, imatrix: bool) -> GgufFormat:
    return GgufFormat(file_types()[ftype_id], imatrix)


def _ids_pattern() -> str:
    names = sorted({*file_types(), *_aliases()}, key=len, reverse=True)
    return "(?:" + "|".join(re.escape(n) for n in names) + f")(?:{re.escape(IMATRIX_SUFFIX)})?"


@register_format(_ids_pattern(), tuple(file_types()))
def _factory(format_id: str, options: FormatOptions) -> QuantFormat:
    ft, imatrix = file_type(format_id)
    return _format(ft.id, imatrix)
