"""Mamba-1 selective state-space models (``mamba``), the Mamba-1 mixer Jamba reuses, and the
``backbone`` layout Mamba-2 shares.

Sources: transformers ``models/mamba/{configuration,modeling}_mamba.py`` (``MambaMixer``,
``MambaBlock``, ``MambaModel``) and ``cache_utils.py`` (``LinearAttentionLayer``), transformers 5.x.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

from planner.errors import InvalidFieldError
from planner.model.architectures import register
from planner.model.architectures.common import add_embeddings, num_layers
from planner.model.builder import SpecBuilder
from planner.model.config import LIMITS, ConfigView
from planner.model.spec import AttentionKind, LayerSpec, ModelSpec, Role


def time_step_rank(cfg: ConfigView, key: str, hidden: int) -> int:
    """The dt projection rank: an integer, or ``"auto"`` for ``ceil(hidden / 16)`` (the default)."""
    if cfg.raw.get(key) in (None, "auto"):
        return math.ceil(hidden / 16)
    return cfg.int(key)


def expanded_width(cfg: ConfigView, key: str, hidden: int, default: int = 2) -> int:
    """``expand x hidden_size``: the inner width of a Mamba mixer.

    # NOTE: transformers 5.x types ``expand`` as an integer, but configs saved by earlier
    # versions sometimes carry a float (1.5); they built ``int(expand * hidden_size)``, so a float
    # is accepted when the product is a whole number of channels.
    """
    expand = cfg.float(key, float(default))
    width = (expand or 0.0) * hidden
    if width < 1 or not width.is_integer() or width > LIMITS["width"]:
        raise InvalidFieldError(
            key, f"is {expand}; {key} x hidden_size ({hidden}) must be a whole number of channels"
        )
    return int(width)


def mamba1_state_elements(intermediate: int, conv_kernel: int, state_size: int) -> int:
    """Per-sequence recurrent state of one Mamba-1 layer: conv window plus SSM state.

    # NOTE: transformers' ``LinearAttentionLayer`` allocates the conv state as
    # ``[batch, intermediate, conv_kernel]`` (``update_conv_state(..., conv_kernel_size=conv_kernel)``)
    # and the SSM state as ``[batch, intermediate, state_size]``. vLLM's
    # ``MambaStateShapeCalculator.mamba1_state_shape`` keeps one column less of conv state
    # (``conv_kernel - 1``); the planner follows transformers.
    """
    return intermediate * conv_kernel + intermediate * state_size


def add_mamba1_mixer(
    b: SpecBuilder,
    i: int,
    prefix: str,
    hidden: int,
    intermediate: int,
    dt_rank: int,
    state_size: int,
    conv_kernel: int,
    *,
    proj_bias: bool,
    conv_bias: bool,
    inner_norms: bool = False,
) -> None:
    """One Mamba-1 mixer: in/x/dt/out projections, depthwise conv, ``A_log`` and ``D``.

    ``inner_norms`` adds Jamba's RMSNorms over dt, B and C.
    """
    b.add_linear(f"{prefix}.in_proj", Role.SSM_IN, 2 * intermediate, hidden, i, bias=proj_bias)
    # NOTE: depthwise Conv1d keeps its weight as [channels, 1, kernel].
    b.add(f"{prefix}.conv1d.weight", Role.SSM_CONV, (intermediate, 1, conv_kernel), i)
    if conv_bias:
        b.add(f"{prefix}.conv1d.bias", Role.BIAS, (intermediate,), i)
    # NOTE: x_proj makes dt, B and C input-dependent; dt_proj always has a bias.
    b.add_linear(f"{prefix}.x_proj", Role.SSM_IN, dt_rank + 2 * state_size, intermediate, i)
    b.add_linear(f"{prefix}.dt_proj", Role.SSM_IN, intermediate, dt_rank, i, bias=True)
    b.add(f"{prefix}.A_log", Role.SSM_PARAM, (intermediate, state_size), i)
    b.add(f"{prefix}.D", Role.SSM_PARAM, (intermediate,), i)
    b.add_linear(f"{prefix}.out_proj", Role.SSM_OUT, hidden, intermediate, i, bias=proj_bias)
    if inner_norms:
        b.add_norm(f"{prefix}.dt_layernorm", dt_rank, i)
        b.add_norm(f"{prefix}.b_layernorm", state_size, i)
        b.add_norm(f"{prefix}.c_layernorm", state_size, i)


def build_mamba_backbone(
    b: SpecBuilder,
    cfg: ConfigView,
    name: str,
    *,
    hidden: int,
    vocab: int,
    n_layers: int,
    tied: bool,
    state_elements: int,
    add_mixer: Callable[..., None],
) -> ModelSpec:
    """The ``backbone`` Mamba-1 and Mamba-2 share: embeddings, ``n_layers`` blocks (norm + mixer), final
    ``norm_f``, every layer a LINEAR one. ``add_mixer(i, prefix, proj_bias=, conv_bias=)`` adds the
    family's mixer; both families read the biases from ``use_bias`` and ``use_conv_bias``."""
    proj_bias = cfg.bool("use_bias", False)
    conv_bias = cfg.bool("use_conv_bias", True)
    add_embeddings(b, vocab, hidden, tied=tied, embed_name="backbone.embeddings.weight")
    b.add_norm("backbone.norm_f", hidden)
    for i in range(n_layers):
        p = "backbone.layers.*"
        b.add_norm(f"{p}.norm", hidden, i)
        add_mixer(i, f"{p}.mixer", proj_bias=proj_bias, conv_bias=conv_bias)
        b.layers.append(LayerSpec(index=i, attention=AttentionKind.LINEAR, state_elements=state_elements))
    b.note("no KV cache: each layer keeps a fixed recurrent state (conv window + SSM state) per sequence")
    return b.build(name=name, hidden_size=hidden, vocab_size=vocab, tied_embeddings=tied)


@register("mamba")
def build_mamba(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """Mamba-1 (``MambaForCausalLM``): embeddings, ``num_hidden_layers`` mixer blocks, final norm."""
    b = SpecBuilder(cfg, "mamba")
    hidden = cfg.int("hidden_size")
    vocab = cfg.int("vocab_size", maximum=LIMITS["vocab"])
    n = num_layers(cfg)
    # NOTE: MambaConfig derives intermediate_size = expand * hidden_size, but an explicit
    # intermediate_size in config.json overrides it (the -hf checkpoints carry both).
    intermediate = (
        cfg.int("intermediate_size")
        if cfg.has("intermediate_size")
        else expanded_width(cfg, "expand", hidden)
    )
    state = cfg.int("state_size", 16)
    kernel = cfg.int("conv_kernel", 4, maximum=LIMITS["heads"])
    dt_rank = time_step_rank(cfg, "time_step_rank", hidden)
    tied = cfg.bool("tie_word_embeddings", True)
    mixer = partial(
        add_mamba1_mixer,
        b,
        hidden=hidden,
        intermediate=intermediate,
        dt_rank=dt_rank,
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
        state_elements=mamba1_state_elements(intermediate, kernel, state),
        add_mixer=mixer,
    )
