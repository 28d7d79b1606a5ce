"""What each tensor of a derived template does (offline: names plus the owning module's class).

The roles match :class:`planner.model.spec.Role`; quantization formats choose storage by role.
Towers and connectors of multimodal models are ``vision`` / ``projector`` whatever they hold
(llama.cpp keeps them all in its separate mmproj file).
"""

from __future__ import annotations

import re

_EXPERT_NAMES = [
    (r"gate_up_proj|gate_up|w13|fc1_gate_up", "expert_gate_up"),
    (r"(^|_)down_proj$|^w2$|^down$|^fc2$|^wo$|output_linear|^c_proj$", "expert_down"),
    (r"gate_proj$|^w1$|^gate$|^wi_0$", "expert_gate"),
    (r"up_proj$|^w3$|^up$|^wi_1$|^fc1$|^wi$|input_linear|^c_fc$", "expert_up"),
]
_SHARED_NAMES = [
    (r"gate_up", "shared_expert_up"),
    (r"down|w2|fc2|wo$", "shared_expert_down"),
    (r"gate_proj|w1$|wi_0", "shared_expert_gate"),
    (r"up|w3|fc1|wi_1|wi$", "shared_expert_up"),
]


def _component(name: str, k: int = -2) -> str:
    parts = [p for p in name.split(".") if p != "*"]
    return parts[k] if len(parts) >= -k else ""


def classify(name: str, module_class: str, part: str, shape: list[str]) -> tuple[str, bool]:
    """``(role, fused_experts)`` for one tensor name pattern.

    ``fused_experts`` is true for transformers 5's stacked routed experts (one 3-D tensor
    ``[n_experts, out, in]`` per layer), which the template stores per expert.
    """
    lowered = name.lower()
    leaf = name.rsplit(".", 1)[-1]
    owner = _component(name)
    if part in ("vision", "audio"):
        return "vision", False
    if part == "projector":
        return "projector", False
    cls = module_class.lower()
    is_bias = leaf == "bias" or leaf.endswith("_bias")
    if (
        "norm" in cls
        or re.search(r"(^|_)(ln|norm|layernorm|layer_norm)(_|\d|$)", owner.lower())
        or "norm" in owner.lower()
    ):
        return ("bias" if leaf == "bias" else "norm"), False
    if "embedding" in cls or leaf in ("wte", "wpe") or owner in ("wte", "wpe"):
        if re.search(r"pos|wpe", lowered):
            return "position_embedding", False
        return "embedding", False
    if (
        re.search(r"(^|\.)(lm_head|lm_heads|output|embed_out|head)\.", name + ".")
        and part == "text"
        and not re.search(r"layers?\.\*|blocks\.\*|\.h\.\*", name)
    ):
        return "lm_head", False
    if is_bias and leaf != "e_score_correction_bias":
        return "bias", False
    # routed experts: ``...experts.gate_up_proj`` (3-D) or ``...experts.*.w1.weight``
    if re.search(r"(^|\.)experts(\.|$)", lowered) and "shared" not in lowered:
        tail = name.split(".experts.", 1)[1] if ".experts." in name else leaf
        tail_parts = [p for p in tail.split(".") if p not in ("*", "weight")]
        key = tail_parts[0] if tail_parts else leaf
        fused = ".experts.*." not in name and len(shape) == 3
        for pattern, role in _EXPERT_NAMES:
            if re.search(pattern, key):
                return role, fused
        return "expert_up", fused
    if re.search(r"shared_expert|shared_mlp|shared_experts", lowered):
        if re.search(r"shared_expert_gate$|shared_expert_gate\.weight", name):
            return "shared_expert_router", False
        for pattern, role in _SHARED_NAMES:
            if re.search(pattern, owner) or re.search(pattern, leaf):
                return role, False
        return "shared_expert_up", False
    if leaf == "e_score_correction_bias" or (
        re.search(r"(^|\.)(router|gate|moe_gate|switch|gating|wg)(\.|$)", name)
        and re.search(r"mlp|moe|feed_forward|block_sparse|ffn|router|expert", lowered)
    ):
        return "router", False
    if re.search(r"sinks?$", leaf):
        return "attn_sinks", False
    # state-space / linear attention
    if re.search(
        r"mamba|mixer|ssm|linear_attn|conv|short_conv|delta|recurrent|rwkv|time_mix|xlstm|lru", lowered
    ):
        if re.search(r"conv", owner.lower()) or re.search(r"conv", leaf):
            return "ssm_conv", False
        if leaf in ("A_log", "D", "dt_bias", "A", "a_log", "d") or len(shape) <= 1:
            return "ssm_param", False
        if re.search(r"out_proj|o_proj|output", owner):
            return "ssm_out", False
        if re.search(r"in_proj|x_proj|dt_proj|qkv|q_proj|k_proj|v_proj|proj", owner):
            return "ssm_in", False
    # attention
    if re.search(r"q_a_proj$", owner):
        return "attn_q_a", False
    if re.search(r"q_b_proj$", owner):
        return "attn_q_b", False
    if re.search(r"kv_a_proj", owner):
        return "attn_kv_a", False
    if re.search(r"kv_b_proj$", owner):
        return "attn_kv_b", False
    if re.search(r"(^|_)(qkv|query_key_value|c_attn|wqkv|qkv_proj|Wqkv|in_proj)($|_)", owner, re.I):
        return "attn_qkv", False
    if re.search(r"(^|_)(q|query|q_proj|wq)$", owner):
        return "attn_q", False
    if re.search(r"(^|_)(k|key|k_proj|wk)$", owner):
        return "attn_k", False
    if re.search(r"(^|_)(v|value|v_proj|wv)$", owner):
        return "attn_v", False
    if re.search(r"attn|attention", lowered) and re.search(
        r"(^|_)(o|o_proj|out_proj|dense|c_proj|wo|out|proj)$", owner
    ):
        return "attn_out", False
    # dense MLP
    if re.search(r"gate_up|w13|gate_up_proj|fc1_gate", owner):
        return "mlp_gate_up", False
    if re.search(r"down|w2$|fc2|dense_4h_to_h|c_proj|fc_out|wo$|out_proj|output", owner):
        return "mlp_down", False
    if re.search(r"gate|w1$|wi_0", owner):
        return "mlp_gate", False
    if re.search(r"up|w3$|fc1|dense_h_to_4h|c_fc|fc_in|wi|intermediate|fc$", owner):
        return "mlp_up", False
    if len(shape) >= 2:
        return "mlp_up", False
    return ("bias" if is_bias else "norm"), False
