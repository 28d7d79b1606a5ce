"""What each tensor does, from its checkpoint name: the one place tensor names become roles.

Every inventory (safetensors headers, transformers on the meta device) names its tensors
the way checkpoints do (``model.layers.3.self_attn.q_proj.weight``); formats choose storage
per :class:`~planner.model.spec.Role` (GGUF per-tensor types, bitsandbytes and GPTQ/AWQ skip
lists, FP8 exclusions), so whatever the architecture, its tensors need roles.

The map is llama.cpp's: gguf-py's ``TensorNameMap`` (``gguf/tensor_mapping.py``, package
``gguf`` 0.19.0) lists the Hugging Face names of every tensor ``convert_hf_to_gguf.py``
converts, for every architecture it supports, as a ``MODEL_TENSOR``; :data:`_TENSOR_ROLES`
turns those into roles. Names it does not know fall back to a few rules on the module names
(:func:`_fallback_role`), which also break the ties where gguf-py lists one name under two
tensors (``post_attention_layernorm`` is ``ATTN_POST_NORM`` in some architectures and
``FFN_NORM`` in others; both are norms).

Three things come before the name map: the vision and audio towers and their projector
(everything under ``vision_tower.``, ``visual.``, ``audio_tower.``... is VISION or PROJECTOR,
as llama.cpp writes it to the separate mmproj file), multi-token-prediction layers (``mtp.``,
``nextn``, or a decoder layer index past ``num_hidden_layers``, as DeepSeek-V3 and GLM-4.5
store them), and biases, which are :attr:`Role.BIAS` whatever they belong to.
"""

from __future__ import annotations

from functools import cache

from planner.model.spec import Role

#: Name components that put a tensor in a vision tower, an audio tower or the projector between
#: a tower and the language model (transformers' module names across its image-text models).
_VISION_PARTS = frozenset(
    {
        "vision_tower",
        "image_tower",  # Video-LLaVA
        "video_tower",  # Video-LLaVA
        "vision_model",
        "vision_encoder",
        "visual",
        "vision",
        "vit",
        "image_encoder",
        "vision_embed_tokens",
        "img_processor",
        "image_newline",
        "patch_embed",
    }
)
_AUDIO_PARTS = frozenset({"audio_tower", "audio_model", "audio_encoder", "audio", "whisper_encoder"})
_PROJECTOR_PARTS = frozenset(
    {
        "multi_modal_projector",
        "mm_projector",
        "multimodal_projector",
        "projector",
        "merger",
        "connector",
        "aligner",
        "mlp1",
        "embed_vision",
        "embed_audio",
        "audio_projection",
        "vision_projection",
        "visual_projection",
        "img_projection",
        "image_projection",
    }
)
#: Name components of multi-token-prediction / next-n / draft heads.
_MTP_PARTS = frozenset({"mtp", "nextn", "mtp_layers", "eh_proj", "enorm", "hnorm", "shared_head"})

#: Last components that are not part of a tensor's module path.
_SUFFIXES = ("weight", "bias")

#: gguf-py MODEL_TENSOR names -> roles. Names left out (RWKV time-mix, T5 encoder/decoder,
#: Gemma 3n AltUp/Laurel, vision-expert layers...) fall back to :func:`_fallback_role`.
_TENSOR_ROLES: dict[str, Role] = {
    "TOKEN_EMBD": Role.EMBEDDING,
    "TOKEN_TYPES": Role.EMBEDDING,
    "PER_LAYER_TOKEN_EMBD": Role.EMBEDDING,
    "POS_EMBD": Role.POSITION_EMBEDDING,
    "OUTPUT": Role.LM_HEAD,
    "ATTN_Q": Role.ATTN_Q,
    "ATTN_K": Role.ATTN_K,
    "ATTN_V": Role.ATTN_V,
    "ATTN_QKV": Role.ATTN_QKV,
    "ATTN_OUT": Role.ATTN_OUT,
    "ATTN_GATE": Role.ATTN_GATE,
    "ATTN_SINKS": Role.ATTN_SINKS,
    "ATTN_Q_A": Role.ATTN_Q_A,
    "ATTN_Q_B": Role.ATTN_Q_B,
    "ATTN_KV_A_MQA": Role.ATTN_KV_A,
    "ATTN_KV_B": Role.ATTN_KV_B,
    "ATTN_K_B": Role.ATTN_KV_B,
    "ATTN_V_B": Role.ATTN_KV_B,
    "FFN_GATE_INP": Role.ROUTER,
    "FFN_GATE_INP_SHEXP": Role.SHARED_EXPERT_ROUTER,
    "FFN_EXP_PROBS_B": Role.BIAS,
    "FFN_GATE": Role.MLP_GATE,
    "FFN_UP": Role.MLP_UP,
    "FFN_DOWN": Role.MLP_DOWN,
    "FFN_GATE_EXP": Role.EXPERT_GATE,
    "FFN_UP_EXP": Role.EXPERT_UP,
    "FFN_GATE_UP_EXP": Role.EXPERT_GATE_UP,
    "FFN_DOWN_EXP": Role.EXPERT_DOWN,
    "FFN_GATE_SHEXP": Role.SHARED_EXPERT_GATE,
    "FFN_UP_SHEXP": Role.SHARED_EXPERT_UP,
    "FFN_DOWN_SHEXP": Role.SHARED_EXPERT_DOWN,
    "SSM_IN": Role.SSM_IN,
    "SSM_X": Role.SSM_IN,
    "SSM_DT": Role.SSM_IN,
    "SSM_ALPHA": Role.SSM_IN,
    "SSM_BETA": Role.SSM_IN,
    "SSM_BETA_ALPHA": Role.SSM_IN,
    "SSM_F_A": Role.SSM_IN,
    "SSM_F_B": Role.SSM_IN,
    "SSM_G_A": Role.SSM_IN,
    "SSM_G_B": Role.SSM_IN,
    "SSM_OUT": Role.SSM_OUT,
    "SSM_CONV1D": Role.SSM_CONV,
    "SSM_CONV1D_Q": Role.SSM_CONV,
    "SSM_CONV1D_K": Role.SSM_CONV,
    "SSM_CONV1D_V": Role.SSM_CONV,
    "SSM_A": Role.SSM_PARAM,
    "SSM_D": Role.SSM_PARAM,
    "SHORTCONV_CONV": Role.SSM_CONV,
    "SHORTCONV_INPROJ": Role.SSM_IN,
    "SHORTCONV_OUTPROJ": Role.SSM_OUT,
    "CLS": Role.OTHER,
}


def _tensor_role(tensor_name: str) -> Role | None:
    """A gguf-py MODEL_TENSOR name as a role (norms by name; towers and MTP by prefix)."""
    if tensor_name in _TENSOR_ROLES:
        return _TENSOR_ROLES[tensor_name]
    if tensor_name.startswith("NEXTN_"):
        return Role.MTP
    if tensor_name.startswith(("V_MM", "V_RESMPL", "A_MM", "V_DS_")):
        return Role.PROJECTOR
    if tensor_name.startswith(("V_", "A_")):  # vision and audio encoders (see _tower)
        return Role.VISION
    if "NORM" in tensor_name:
        return Role.NORM
    return None


@cache
def _gguf_names() -> dict[str, tuple[str, ...]]:
    """Every Hugging Face name gguf-py maps (``{bid}`` for the layer), with its MODEL_TENSOR names."""
    from gguf.tensor_mapping import TensorNameMap

    out: dict[str, list[str]] = {}
    tables = [TensorNameMap.mappings_cfg, TensorNameMap.block_mappings_cfg]
    tables += list(getattr(TensorNameMap, "arch_block_mappings_cfg", {}).values())
    for table in tables:
        for tensor, keys in table.items():
            for key in keys:
                names = out.setdefault(key, [])
                if tensor.name not in names:
                    names.append(tensor.name)
    return {key: tuple(names) for key, names in out.items()}


def module_path(name: str) -> str:
    """``name`` without its ``.weight``/``.bias`` leaf and with ``*`` for every numeric index."""
    parts = name.split(".")
    if len(parts) > 1 and parts[-1] in _SUFFIXES:
        parts = parts[:-1]
    return ".".join("*" if p.isdigit() else p for p in parts)


def _gguf_key(path: str) -> str:
    """A module path as gguf-py spells it: ``{bid}`` for the layer, routed experts merged."""
    key = path.replace("*", "{bid}", 1)
    return key.replace(".experts.*.", ".experts.").replace(".*.", ".").removesuffix(".*")


def _leaf(parts: list[str]) -> str:
    return parts[-1] if parts else ""


def _is_bias(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last == "bias" or (last.endswith("_bias") and last not in ("dt_bias",))


_FALLBACK_LEAVES: dict[str, Role] = {
    "q_proj": Role.ATTN_Q,
    "query": Role.ATTN_Q,
    "wq": Role.ATTN_Q,
    "k_proj": Role.ATTN_K,
    "key": Role.ATTN_K,
    "wk": Role.ATTN_K,
    "v_proj": Role.ATTN_V,
    "value": Role.ATTN_V,
    "wv": Role.ATTN_V,
    "qkv_proj": Role.ATTN_QKV,
    "query_key_value": Role.ATTN_QKV,
    "c_attn": Role.ATTN_QKV,
    "wqkv": Role.ATTN_QKV,
    "Wqkv": Role.ATTN_QKV,
    "qkv": Role.ATTN_QKV,
    "o_proj": Role.ATTN_OUT,
    "out_proj": Role.ATTN_OUT,
    "wo": Role.ATTN_OUT,
    "dense": Role.ATTN_OUT,
    "gate_proj": Role.MLP_GATE,
    "w1": Role.MLP_GATE,
    "up_proj": Role.MLP_UP,
    "w3": Role.MLP_UP,
    "fc1": Role.MLP_UP,
    "c_fc": Role.MLP_UP,
    "dense_h_to_4h": Role.MLP_UP,
    "fc_in": Role.MLP_UP,
    "down_proj": Role.MLP_DOWN,
    "w2": Role.MLP_DOWN,
    "fc2": Role.MLP_DOWN,
    "dense_4h_to_h": Role.MLP_DOWN,
    "fc_out": Role.MLP_DOWN,
    "gate_up_proj": Role.MLP_GATE_UP,
    "input_linear": Role.MLP_GATE_UP,
    "output_linear": Role.MLP_DOWN,
    "router": Role.ROUTER,
    "embed_tokens": Role.EMBEDDING,
    "wte": Role.EMBEDDING,
    "word_embeddings": Role.EMBEDDING,
    "tok_embeddings": Role.EMBEDDING,
    "embeddings": Role.EMBEDDING,
    "lm_head": Role.LM_HEAD,
    "wpe": Role.POSITION_EMBEDDING,
    "position_embeddings": Role.POSITION_EMBEDDING,
    "A_log": Role.SSM_PARAM,
    "D": Role.SSM_PARAM,
    "dt_bias": Role.SSM_PARAM,
    "conv1d": Role.SSM_CONV,
    "sinks": Role.ATTN_SINKS,
}
#: Leaves whose fallback role wins over gguf-py's (which lists, e.g., ``dt_bias`` with ``SSM_DT``).
_SURE_LEAVES = frozenset({"A_log", "D", "dt_bias", "sinks", "gate_up_proj"})
#: Module paths (their last two components) classified by hand where gguf-py's name would
#: mislead. NOTE: Granite 4.0-H's ``shared_mlp`` runs on every token like a dense MLP (it is the
#: only MLP of the dense "micro"); llama.cpp files it as a shared expert. Storage rules are the same.
_OVERRIDES: dict[str, Role] = {
    "shared_mlp.input_linear": Role.MLP_GATE_UP,
    "shared_mlp.output_linear": Role.MLP_DOWN,
    # NOTE: the DSA indexer of DeepSeek-V3.2 and GLM-5 (transformers ``DeepseekV32Indexer``): a second
    # query projection from the query latent, and per-head weights of its scores (llama.cpp
    # ``indexer.attn_q_b`` and ``indexer.proj``); gguf-py's map lists neither under transformers' names.
    "indexer.wq_b": Role.ATTN_Q_B,
    "indexer.weights_proj": Role.ATTN_GATE,
    # NOTE: the shared expert's scalar gate (Qwen2-MoE, Qwen3-Next, Qwen3.5 ``mlp.shared_expert_gate``,
    # [1, hidden]) is a router (llama.cpp ``ffn_gate_inp_shexp``); gguf-py lists it only without a wrapper's
    # ``language_model`` prefix.
    "mlp.shared_expert_gate": Role.SHARED_EXPERT_ROUTER,
    # NOTE: Qwen3.5's gated DeltaNet splits Qwen3-Next's fused input projections in four; gguf-py does not
    # list the split names (llama.cpp files them as ssm_in / ssm_alpha / ssm_beta, all inputs of the SSM).
    "linear_attn.in_proj_qkv": Role.SSM_IN,
    "linear_attn.in_proj_z": Role.SSM_IN,
    "linear_attn.in_proj_b": Role.SSM_IN,
    "linear_attn.in_proj_a": Role.SSM_IN,
    "linear_attn.out_proj": Role.SSM_OUT,
    # NOTE: Gemma 4's MoE router is a module holding a projection (Gemma4TextRouter.proj).
    "router.proj": Role.ROUTER,
}
_EXPERT_ROLES = {
    Role.MLP_GATE: Role.EXPERT_GATE,
    Role.MLP_UP: Role.EXPERT_UP,
    Role.MLP_GATE_UP: Role.EXPERT_GATE_UP,
    Role.MLP_DOWN: Role.EXPERT_DOWN,
}
_SHARED_ROLES = {
    Role.MLP_GATE: Role.SHARED_EXPERT_GATE,
    Role.MLP_UP: Role.SHARED_EXPERT_UP,
    Role.MLP_DOWN: Role.SHARED_EXPERT_DOWN,
}


def _fallback_role(path: str, ndim: int) -> Role:
    """Rules on module names for what gguf-py does not list (and to break its ties)."""
    parts = [p for p in path.split(".") if p != "*"]
    leaf = _leaf(parts)
    if "norm" in leaf.lower() or leaf.startswith("ln_") or leaf in ("ln1", "ln2", "ln_f"):
        return Role.NORM
    role = _FALLBACK_LEAVES.get(leaf)
    if leaf == "gate" and len(parts) > 1 and parts[-2] in ("mlp", "moe", "block_sparse_moe", "feed_forward"):
        role = Role.ROUTER
    if role is None:
        return Role.OTHER if ndim >= 2 else Role.NORM
    parents = set(parts[:-1])
    # NOTE: a 3-D linear weight holds one matrix per routed expert (Granite 4.0-H's
    # block_sparse_moe.input_linear [E, 2I, H], gpt-oss and Llama 4's experts.gate_up_proj).
    if ("experts" in parents or ndim == 3) and role in _EXPERT_ROLES:
        return _EXPERT_ROLES[role]
    if parents & {"shared_expert", "shared_experts"} and role in _SHARED_ROLES:
        return _SHARED_ROLES[role]
    if role is Role.ATTN_OUT and leaf == "dense" and not parents & {"attention", "self_attention", "attn"}:
        return Role.OTHER
    return role


def _tower(parts: list[str]) -> Role | None:
    """VISION (vision or audio tower) or PROJECTOR when a name component says the tensor is not the language model's."""
    owners = set(parts[:-1])
    if owners & _PROJECTOR_PARTS:
        return Role.PROJECTOR
    if owners & _VISION_PARTS:
        return Role.VISION
    if owners & _AUDIO_PARTS:
        # NOTE: an audio tower is stored and placed like a vision tower (llama.cpp's mmproj file,
        # kept 16-bit by bitsandbytes and GPTQ recipes): one role, VISION, covers both.
        return Role.VISION
    return None


def _is_mtp(parts: list[str], n_layers: int | None) -> bool:
    if set(parts) & _MTP_PARTS:
        return True
    if n_layers is None:
        return False
    # NOTE: DeepSeek-V3/R1 and GLM-4.5 store their next-n layers as decoder layers
    # model.layers.{num_hidden_layers + k}.*, which transformers drops on load.
    for i, p in enumerate(parts[:-1]):
        if p.isdigit():
            return parts[i - 1] == "layers" and int(p) >= n_layers
    return False


def classify(name: str, ndim: int = 2, *, n_layers: int | None = None) -> Role:
    """The role of the checkpoint tensor ``name`` (with ``ndim`` dimensions).

    ``n_layers`` (the config's ``num_hidden_layers``) marks layers past the last decoder
    layer as multi-token-prediction layers. Never raises: a name nothing recognizes is
    :attr:`Role.OTHER` (a matrix) or :attr:`Role.NORM` (a vector), both stored like any
    tensor of their shape.
    """
    parts = name.split(".")
    tower = _tower(parts)
    if tower is not None:
        return tower
    if _is_mtp(parts, n_layers):
        return Role.MTP
    if _is_bias(name):
        return Role.BIAS
    path = module_path(name)
    override = _OVERRIDES.get(".".join(path.split(".")[-2:]))
    if override is not None:
        return override
    fallback = _fallback_role(path, ndim)
    tensors = _gguf_names().get(_gguf_key(path))
    if not tensors:
        # NOTE: transformers 5 fuses routed experts into 3-D ``experts.gate_up_proj`` /
        # ``experts.down_proj`` parameters with no ``.weight``; gguf-py lists the checkpoint names.
        return fallback
    roles = [r for r in (_tensor_role(t) for t in tensors) if r is not None]
    if not roles or fallback in roles or path.rsplit(".", 1)[-1] in _SURE_LEAVES:
        return fallback
    return roles[0]
