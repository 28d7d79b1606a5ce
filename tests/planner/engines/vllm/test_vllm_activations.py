"""vLLM v0.19 profile_run terms against gpu_model_runner.py and fused_moe.py (TritonExperts.workspace_shapes)."""

from planner.engines.constants import constant
from planner.engines.vllm.activations import profile
from planner.resolve import load_model


def test_profile_terms_follow_profile_run():
    spec = load_model("Qwen/Qwen3-30B-A3B")
    p = profile(spec, 2, tp=1, max_num_batched_tokens=8192, max_num_seqs=1024)
    c = constant("vllm_sampler_bytes_per_logit").value
    assert p.num_reqs == 1024 and p.sampler == round(1024 * 151936 * c)
    # TritonExperts.workspace_shapes: (M, topk, max(N//2, K)) + (M, topk, max(N, K)) + (M, K), N = 2 x 768
    m, topk, n, k = 8192, 8, 1536, 2048
    assert p.moe_workspace == (m * topk * max(n // 2, k) + m * topk * max(n, k) + m * k) * 2
    assert p.peak == p.moe_workspace + max(p.forward, p.hidden_kept + p.sampler)
    few = profile(spec, 2, tp=1, max_num_batched_tokens=2048, max_num_seqs=4096)
    assert few.num_reqs == 2048  # min(max_num_seqs, max_num_batched_tokens)
