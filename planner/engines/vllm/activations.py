"""vLLM's activation peak: the torch peak increase of ``profile_run`` (v0.19.0), one rank.

``determine_available_memory`` runs ``profile_run`` inside ``memory_profiling`` and charges the KV
budget with ``torch_peak_increase``: the peak of the allocator during the dummy forward of
``max_num_batched_tokens`` tokens and the dummy sampler over ``min(max_num_seqs,
max_num_batched_tokens)`` requests, above what the weights already held.
"""

from __future__ import annotations

from planner.engines.constants import constant, empirical
from planner.engines.forward import forward
from planner.engines.shape import model_shape
from planner.frozen import record
from planner.hardware.units import format_short
from planner.memory.figure import Figure
from planner.model.spec import ModelSpec

SOURCE = (
    "vllm-project/vllm v0.19.0: vllm/v1/worker/gpu_worker.py (init_device, determine_available_memory), "
    "gpu_model_runner.py (load_model, profile_run), vllm/utils/mem_utils.py (memory_profiling), "
    "vllm/v1/kv_cache_interface.py and vllm/v1/core/kv_cache_utils.py (pages), vllm/engine/arg_utils.py "
    "(get_batch_defaults)"
)
SRC_PROFILE = (
    "vllm-project/vllm v0.19.0 vllm/v1/worker/gpu_model_runner.py (profile_run: _dummy_run(max_num_tokens) then "
    "_dummy_sampler_run over min(max_num_seqs, max_num_tokens) requests); vllm/utils/mem_utils.py memory_profiling "
    "(torch_peak_increase)"
)
SRC_MOE_WS = (
    "vllm-project/vllm vllm/model_executor/layers/fused_moe/fused_moe.py TritonExperts.workspace_shapes "
    "(workspace1 (M, topk, max(N // 2, K)), workspace2 (M, topk, max(N, K)), output (M, K)), held by the "
    "worker's workspace manager (gpu_worker.py init_workspace_manager)"
)


@record
class ProfilePlan:
    """The torch peak increase of ``profile_run`` and its terms (bytes, one rank)."""

    forward: int  # the dummy forward: residual stream + transient (freed before the sampler)
    residual: int  # its residual stream (whole on every tensor-parallel rank)
    hidden_kept: int  # the forward's hidden states, still referenced while the sampler runs
    sampler: int  # dummy sampler over num_reqs x vocab logits
    moe_workspace: int  # fused-MoE workspaces, held by the workspace manager
    num_tokens: int
    num_reqs: int

    @property
    def peak(self) -> int:
        """``moe_workspace + max(forward, hidden_kept + sampler)``."""
        return self.moe_workspace + max(self.forward, self.hidden_kept + self.sampler)


def profile(
    spec: ModelSpec, act_bytes: int, *, tp: int, max_num_batched_tokens: int, max_num_seqs: int
) -> ProfilePlan:
    """The terms of ``profile_run`` with ``max_num_batched_tokens`` tokens over ``max_num_seqs`` requests.

    # NOTE: v0.19 ``profile_run``: ``hidden_states, last_hidden_states = _dummy_run(max_num_tokens,
    # is_profile=True)`` (the forward's transients are freed when it returns, its hidden states
    # stay referenced), then ``_dummy_sampler_run(last_hidden_states)``: ``compute_logits`` over one
    # row per request, the float32 copy, temperature/top-k/top-p and the probabilities (the dummy
    # metadata asks for all of them), ``num_reqs = min(max_num_seqs, max_num_tokens)``. The bytes
    # per logit of that sampler phase are fitted on public logs (vllm_sampler_bytes_per_logit).
    # The fused-MoE workspaces stay allocated (workspace manager) through both phases.
    """
    f = forward(spec, act_bytes, tp=tp, tokens=max_num_batched_tokens)
    reqs = min(max_num_seqs, max_num_batched_tokens)
    sampler = round(reqs * model_shape(spec).vocab * constant("vllm_sampler_bytes_per_logit").value)
    return ProfilePlan(
        f.residual + f.transient, f.residual, f.hidden, sampler, f.moe_workspace, max_num_batched_tokens, reqs
    )


def activations_figure(
    spec: ModelSpec, act_bytes: int, *, tp: int = 1, max_num_batched_tokens: int, max_num_seqs: int
) -> Figure:
    """The profile peak as a banded figure (the sampler's bytes per logit are fitted on public logs)."""
    p = profile(
        spec, act_bytes, tp=tp, max_num_batched_tokens=max_num_batched_tokens, max_num_seqs=max_num_seqs
    )
    c = constant("vllm_sampler_bytes_per_logit")
    low_s, high_s = round(p.sampler * c.low / c.value), round(p.sampler * c.high / c.value)
    return empirical(
        p.peak,
        p.moe_workspace + max(p.forward, p.hidden_kept + low_s),
        p.moe_workspace + max(p.forward, p.hidden_kept + high_s),
        f"profile_run: max(forward {format_short(p.forward)} at {max_num_batched_tokens:,} tokens, kept hidden states "
        f"{format_short(p.hidden_kept)} + sampler {p.num_reqs:,} requests x vocab x {c.value:g} B "
        f"{format_short(p.sampler)})"
        + (f" + fused-MoE workspaces {format_short(p.moe_workspace)}" if p.moe_workspace else ""),
        keys=("max_num_batched_tokens", "max_num_seqs", "vocab_size", "hidden_size", "intermediate_size"),
        source=f"{SRC_PROFILE}; {SRC_MOE_WS}; {c.source}",
        parts=_phase_parts(p),
    )


def _phase_parts(p: ProfilePlan) -> dict[str, int]:
    """The terms of the phase that sets the peak (they sum to it)."""
    parts = {"moe_workspace": p.moe_workspace} if p.moe_workspace else {}
    if p.forward >= p.hidden_kept + p.sampler:
        return {**parts, "residual_stream": p.residual, "forward_transient": p.forward - p.residual}
    return {**parts, "hidden_kept": p.hidden_kept, "sampler": p.sampler}


__all__ = ["SOURCE", "ProfilePlan", "activations_figure", "profile"]
