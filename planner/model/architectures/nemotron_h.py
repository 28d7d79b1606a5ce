"""Nemotron-H, Nemotron Nano 2, Nemotron 3 Nano / Super (``nemotron_h``).

A stack of single-mixer blocks, one ``norm`` each: Mamba-2 (``M``), GQA attention (``*``), a squared-ReLU
MLP (``-``, up and down projections only) or an MoE (``E``: a sigmoid router with a correction bias,
non-gated experts, a shared expert, optional latent projections around the experts). The block list is
``layers_block_type`` (or the legacy ``hybrid_override_pattern`` string); ``num_hidden_layers`` is ignored.
Sources: transformers ``models/nemotron_h/{configuration,modeling}_nemotron_h.py`` (``NemotronHConfig``,
``NemotronHMamba2Mixer``, ``NemotronHAttention``, ``NemotronHMLP``, ``NemotronHMoE``, ``NemotronHBlock``),
transformers 5.x.
"""

from __future__ import annotations

from typing import Any

from planner.errors import InvalidFieldError
from planner.model.architectures import register
from planner.model.architectures.common import add_attention, add_embeddings, attention_heads, attention_layer
from planner.model.architectures.mamba2 import add_mamba2_mixer, check_mamba2_geometry, mamba2_state_elements
from planner.model.architectures.moe_blocks import add_correction_bias
from planner.model.builder import SpecBuilder
from planner.model.config import LIMITS, ConfigView
from planner.model.spec import AttentionKind, LayerSpec, ModelSpec, Role

_PATTERN = {"M": "linear_attention", "E": "moe", "*": "full_attention", "-": "mlp"}
#: Legacy spellings transformers remaps (configuration_utils._LEGACY_LAYER_TYPE_REMAP).
_LEGACY = {"mamba": "linear_attention", "attention": "full_attention"}


def block_types(cfg: ConfigView) -> list[str]:
    """One block type per layer: ``layers_block_type`` / ``layer_types``, the pattern string, or the default."""
    for key in ("layers_block_type", "layer_types"):
        if cfg.has(key):
            names = cfg.raw[key]
            if not isinstance(names, list) or not names or len(names) > LIMITS["layers"]:
                raise InvalidFieldError(
                    key, f"must be a non-empty list of at most {LIMITS['layers']} block types"
                )
            out = []
            for i, name in enumerate(names):
                t = _LEGACY.get(name, name) if isinstance(name, str) else None
                if t not in _PATTERN.values():
                    raise InvalidFieldError(
                        f"{key}[{i}]", "must be one of linear_attention, moe, full_attention, mlp"
                    )
                out.append(t)
            return out
    pattern = cfg.raw.get("hybrid_override_pattern")
    if pattern is not None:
        if not isinstance(pattern, str) or not pattern or len(pattern) > LIMITS["layers"]:
            raise InvalidFieldError("hybrid_override_pattern", "must be a non-empty string of M, E, * and -")
        bad = set(pattern) - set(_PATTERN)
        if bad:
            raise InvalidFieldError(
                "hybrid_override_pattern", f"has {sorted(bad)[0]!r}; only M, E, * and - are blocks"
            )
        return [_PATTERN[c] for c in pattern]
    return ["linear_attention", "moe", "full_attention", "mlp"]


def _mamba(cfg: ConfigView) -> tuple[int, int, int, int, int]:
    """``(heads, head_dim, groups, state, conv_kernel)``; the mixer width is heads x head_dim."""
    heads = cfg.int("mamba_num_heads", 128, maximum=LIMITS["heads"])
    head_dim = cfg.int("mamba_head_dim", 64)
    groups = cfg.int("n_groups", cfg.raw.get("mamba_n_groups") or 8, maximum=LIMITS["heads"])
    check_mamba2_geometry(
        heads * head_dim, heads, head_dim, groups, fields=("mamba_num_heads", "mamba_head_dim", "n_groups")
    )
    state = cfg.int("ssm_state_size", 128)
    kernel = cfg.int("conv_kernel", cfg.raw.get("mamba_d_conv") or 4, maximum=LIMITS["heads"])
    return heads, head_dim, groups, state, kernel


@register("nemotron_h")
def build_nemotron_h(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """Read a Nemotron-H config."""
    b = SpecBuilder(cfg, "nemotron_h")
    hidden = cfg.int("hidden_size", 4096)
    vocab = cfg.int("vocab_size", 131072, maximum=LIMITS["vocab"])
    types = block_types(cfg)
    # NOTE: NemotronHForCausalLM declares no tied weights: the head is its own tensor even when the
    # config says tie_word_embeddings.
    tied = False
    mlp_bias = cfg.bool("mlp_bias", False)
    n_experts = top_k = 0
    if "moe" in types:
        n_experts = cfg.int("n_routed_experts", 8, maximum=LIMITS["experts"])
        top_k = cfg.int("num_experts_per_tok", 2, maximum=LIMITS["experts"])
        if top_k > n_experts:
            raise InvalidFieldError(
                "num_experts_per_tok", f"is {top_k}, more than the {n_experts} routed experts"
            )

    add_embeddings(b, vocab, hidden, tied=tied, embed_name="model.embeddings.weight")
    b.add_norm("model.norm_f", hidden)
    for i, t in enumerate(types):
        p = "model.layers.*"
        b.add_norm(f"{p}.norm", hidden, i)
        m = f"{p}.mixer"
        if t == "linear_attention":
            heads, head_dim, groups, state, kernel = _mamba(cfg)
            add_mamba2_mixer(
                b, i, m, hidden, heads * head_dim, heads, groups, state, kernel,
                proj_bias=cfg.bool("use_bias", False), conv_bias=cfg.bool("use_conv_bias", True),
            )  # fmt: skip
            state_elements = mamba2_state_elements(heads * head_dim, groups, state, kernel, heads, head_dim)
            b.layers.append(LayerSpec(i, AttentionKind.LINEAR, state_elements=state_elements))
        elif t == "full_attention":
            heads, kv_heads, head_dim = attention_heads(cfg)
            # NOTE: NemotronHAttention builds q/k/v/o without biases whatever attention_bias says.
            add_attention(b, i, m, hidden, heads, kv_heads, head_dim)
            b.layers.append(attention_layer(i, AttentionKind.FULL, None, kv_heads, head_dim))
        elif t == "mlp":
            inter = cfg.int("intermediate_size", 21504)
            b.add_linear(f"{m}.up_proj", Role.MLP_UP, inter, hidden, i, bias=mlp_bias)
            b.add_linear(f"{m}.down_proj", Role.MLP_DOWN, hidden, inter, i, bias=mlp_bias)
            b.layers.append(LayerSpec(i, AttentionKind.NONE))
        else:
            _add_moe(b, cfg, i, m, hidden, n_experts, top_k, mlp_bias)
            b.layers.append(LayerSpec(i, AttentionKind.NONE, moe=True))
    b.note(
        "each Nemotron-H block is one mixer: Mamba-2, attention, MLP or MoE (only attention blocks cache K and V)"
    )
    return b.build(
        name=name,
        hidden_size=hidden,
        vocab_size=vocab,
        n_experts=n_experts,
        n_experts_per_token=top_k,
        tied_embeddings=tied,
    )


def _add_moe(
    b: SpecBuilder, cfg: ConfigView, i: int, m: str, hidden: int, n_experts: int, top_k: int, bias: bool
) -> None:
    """Router (+ correction bias), non-gated routed experts, a shared expert, optional latent projections."""
    inter = cfg.int("moe_intermediate_size", 7688)
    latent = cfg.opt_int("moe_latent_size")
    width = latent or hidden
    b.add_linear(f"{m}.gate", Role.ROUTER, n_experts, hidden, i)
    add_correction_bias(b, i, f"{m}.gate.e_score_correction_bias", n_experts)
    kw = {"copies": n_experts, "active": (top_k, n_experts)}
    # NOTE: experts are up/down only (squared ReLU, no gate), reading the latent width when one is set.
    b.add(f"{m}.experts.up_proj", Role.EXPERT_UP, (inter, width), i, **kw)
    b.add(f"{m}.experts.down_proj", Role.EXPERT_DOWN, (width, inter), i, **kw)
    shared = cfg.int("moe_shared_expert_intermediate_size", 7688, minimum=0)
    b.add_linear(f"{m}.shared_experts.up_proj", Role.SHARED_EXPERT_UP, shared, hidden, i, bias=bias)
    b.add_linear(f"{m}.shared_experts.down_proj", Role.SHARED_EXPERT_DOWN, hidden, shared, i, bias=bias)
    if latent:
        b.add_linear(f"{m}.fc1_latent_proj", Role.MLP_UP, latent, hidden, i, bias=bias)
        b.add_linear(f"{m}.fc2_latent_proj", Role.MLP_DOWN, hidden, latent, i, bias=bias)
