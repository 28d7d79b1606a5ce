"""MoE pieces shared by the 2025-26 families: shared experts, bias-corrected routers, MTP layer sizes.

Not a family module: it registers nothing (imported by the builders that use it).
"""

from __future__ import annotations

from planner.model.builder import SpecBuilder
from planner.model.spec import Role


def add_shared_mlp(
    b: SpecBuilder, i: int, prefix: str, hidden: int, width: int, *, bias: bool = False
) -> None:
    """An always-on shared expert (a gated MLP of ``width``) under ``prefix``; none for width 0."""
    if width <= 0:
        return
    b.add_linear(f"{prefix}.gate_proj", Role.SHARED_EXPERT_GATE, width, hidden, i, bias=bias)
    b.add_linear(f"{prefix}.up_proj", Role.SHARED_EXPERT_UP, width, hidden, i, bias=bias)
    b.add_linear(f"{prefix}.down_proj", Role.SHARED_EXPERT_DOWN, hidden, width, i, bias=bias)


def add_fused_experts(
    b: SpecBuilder,
    i: int,
    prefix: str,
    hidden: int,
    inter: int,
    n_experts: int,
    top_k: int,
    *,
    names: tuple[str, str] = ("gate_up_proj", "down_proj"),
) -> None:
    """A checkpoint that stores each layer's experts as two 3-D tensors (gate and up fused).

    Counted per expert: ``[2 * inter, hidden]`` and ``[hidden, inter]``, ``n_experts`` copies each.
    """
    gate_up, down = names
    kw = {"copies": n_experts, "active": (top_k, n_experts)}
    b.add(f"{prefix}.{gate_up}", Role.EXPERT_GATE_UP, (2 * inter, hidden), i, **kw)
    b.add(f"{prefix}.{down}", Role.EXPERT_DOWN, (hidden, inter), i, **kw)


def add_correction_bias(b: SpecBuilder, i: int, name: str, n_experts: int) -> None:
    """The router's ``e_score_correction_bias`` (aux-loss-free balancing).

    # NOTE: transformers holds it as a persistent float32 buffer, not a parameter; the checkpoint
    # stores it and it is loaded with the weights, so it is counted (as DeepSeek-V3's is).
    """
    b.add(name, Role.BIAS, (n_experts,), i)
