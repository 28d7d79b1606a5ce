"""Mamba-2 state-space models (``mamba2``: Mamba-Codestral and the -hf ports), and the Mamba-2
mixer Granite 4.0-H reuses.

Sources: transformers ``models/mamba2/{configuration,modeling}_mamba2.py`` (``Mamba2Mixer``,
``MambaRMSNormGated``, ``Mamba2Block``, ``Mamba2Model``) and ``cache_utils.py``
(``LinearAttentionLayer``), transformers 5.x.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from planner.errors import InvalidFieldError
from planner.model.architectures import register
from planner.model.architectures.common import num_layers
from planner.model.architectures.mamba import build_mamba_backbone, expanded_width
from planner.model.builder import SpecBuilder
from planner.model.config import LIMITS, ConfigView
from planner.model.spec import ModelSpec, Role


def mamba2_conv_dim(intermediate: int, n_groups: int, state_size: int) -> int:
    """Channels of the depthwise conv: x plus the grouped B and C."""
    return intermediate + 2 * n_groups * state_size


def mamba2_state_elements(
    intermediate: int, n_groups: int, state_size: int, conv_kernel: int, num_heads: int, head_dim: int
) -> int:
    """Per-sequence recurrent state of one Mamba-2 layer: conv window plus SSM state.

    # NOTE: transformers' ``LinearAttentionLayer`` allocates the conv state as
    # ``[batch, conv_dim, conv_kernel]`` (``Mamba2Mixer`` calls ``update_conv_state`` with
    # ``conv_kernel_size=conv_kernel``) and the SSM state as ``[batch, num_heads, head_dim, state_size]``
    # (the final state of ``mamba2_chunk_scan``). vLLM's ``MambaStateShapeCalculator.mamba2_state_shape``
    # keeps ``conv_kernel - 1`` conv columns, ``conv_dim`` elements fewer; the planner follows transformers.
    """
    conv_dim = mamba2_conv_dim(intermediate, n_groups, state_size)
    return conv_dim * conv_kernel + num_heads * head_dim * state_size


def add_mamba2_mixer(
    b: SpecBuilder,
    i: int,
    prefix: str,
    hidden: int,
    intermediate: int,
    num_heads: int,
    n_groups: int,
    state_size: int,
    conv_kernel: int,
    *,
    proj_bias: bool,
    conv_bias: bool,
) -> None:
    """One Mamba-2 mixer: fused in_proj (z, xBC, dt), depthwise conv, per-head dt_bias/A_log/D,
    gated RMSNorm over the inner width, out_proj."""
    conv_dim = mamba2_conv_dim(intermediate, n_groups, state_size)
    # NOTE: in_proj packs the gate z [intermediate], xBC [conv_dim] and dt [num_heads] in one matrix.
    b.add_linear(
        f"{prefix}.in_proj", Role.SSM_IN, intermediate + conv_dim + num_heads, hidden, i, bias=proj_bias
    )
    # NOTE: depthwise Conv1d keeps its weight as [channels, 1, kernel].
    b.add(f"{prefix}.conv1d.weight", Role.SSM_CONV, (conv_dim, 1, conv_kernel), i)
    if conv_bias:
        b.add(f"{prefix}.conv1d.bias", Role.BIAS, (conv_dim,), i)
    b.add(f"{prefix}.dt_bias", Role.SSM_PARAM, (num_heads,), i)
    b.add(f"{prefix}.A_log", Role.SSM_PARAM, (num_heads,), i)
    b.add(f"{prefix}.D", Role.SSM_PARAM, (num_heads,), i)
    # NOTE: the gated RMSNorm normalises per group but keeps one weight over the whole inner width.
    b.add_norm(f"{prefix}.norm", intermediate, i)
    b.add_linear(f"{prefix}.out_proj", Role.SSM_OUT, hidden, intermediate, i, bias=proj_bias)


def check_mamba2_geometry(
    intermediate: int, num_heads: int, head_dim: int, n_groups: int, *, fields: tuple[str, str, str]
) -> None:
    """The checks transformers makes (``validate_architecture``, ``group_size``), as planner errors.

    ``fields`` names the heads, head-dim and groups fields in this family's config.
    """
    heads_key, head_dim_key, groups_key = fields
    if num_heads * head_dim != intermediate:
        raise InvalidFieldError(
            head_dim_key,
            f"is {head_dim}; {heads_key} ({num_heads}) x {head_dim_key} must equal the expanded "
            f"width {intermediate} (hidden_size x expand)",
        )
    # NOTE: B and C are shared by num_heads / n_groups heads each; transformers builds any value
    # but cannot run one that does not divide.
    if num_heads % n_groups:
        raise InvalidFieldError(groups_key, f"is {n_groups}, which does not divide {heads_key} ({num_heads})")


@register("mamba2")
def build_mamba2(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """Mamba-2 (``Mamba2ForCausalLM``): embeddings, ``num_hidden_layers`` mixer blocks, final norm."""
    b = SpecBuilder(cfg, "mamba2")
    hidden = cfg.int("hidden_size")
    vocab = cfg.int("vocab_size", maximum=LIMITS["vocab"])
    n = num_layers(cfg)
    # Defaults are Mamba2Config's (the Mamba-Codestral geometry).
    num_heads = cfg.int("num_heads", 128, maximum=LIMITS["heads"])
    head_dim = cfg.int("head_dim", 64)
    n_groups = cfg.int("n_groups", 8, maximum=LIMITS["heads"])
    state = cfg.int("state_size", 128)
    kernel = cfg.int("conv_kernel", 4, maximum=LIMITS["heads"])
    # NOTE: Mamba2Mixer uses expand * hidden_size; unlike Mamba-1, intermediate_size is not read.
    intermediate = expanded_width(cfg, "expand", hidden)
    check_mamba2_geometry(
        intermediate, num_heads, head_dim, n_groups, fields=("num_heads", "head_dim", "n_groups")
    )
    tied = cfg.bool("tie_word_embeddings", False)
    mixer = partial(
        add_mamba2_mixer,
        b,
        hidden=hidden,
        intermediate=intermediate,
        num_heads=num_heads,
        n_groups=n_groups,
        state_size=state,
        conv_kernel=kernel,
    )
    return build_mamba_backbone(
        b,
        cfg,
        name,
        hidden=hidden,
        vocab=vocab,
        n_layers=n,
        tied=tied,
        state_elements=mamba2_state_elements(intermediate, n_groups, state, kernel, num_heads, head_dim),
        add_mixer=mixer,
    )
