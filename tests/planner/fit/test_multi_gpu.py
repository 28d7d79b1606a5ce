"""Multi-GPU splits: tensor parallel (vLLM rules) and layer split (llama.cpp rules), exact on small cases."""

import pytest

from planner.catalog import load_catalog
from planner.engines import estimate
from planner.fit.multi_gpu import (
    REPLICATED_ROLES,
    GpuShare,
    layer_devices,
    layer_kv_bytes,
    split_layers,
    split_tensor_parallel,
)
from planner.formats import parse_format
from planner.hardware.gpus import gpus_by_id
from planner.memory.estimate import RunSettings, SettingsError
from planner.model.spec import Role

GIB = 1 << 30
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"  # 32 query heads, 8 KV heads, 32 layers


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def gpus():
    return gpus_by_id()


def run(catalog, fmt="bf16", engine="vllm", model=LLAMA, **settings):
    return estimate(catalog[model].spec(), parse_format(fmt), engine, RunSettings(**settings))


def replicated_bytes(est):
    return sum(t.bytes for t in est.weights_report.tensors if t.group.role in REPLICATED_ROLES)


# ---------------------------------------------------------------------------------------------
# tensor parallel
# ---------------------------------------------------------------------------------------------


def test_two_equal_gpus_halve_the_sharded_weights(catalog):
    est = run(catalog, context=8192)
    plan = split_tensor_parallel(est, [40 * GIB, 40 * GIB])
    rep = replicated_bytes(est)
    rope = est.weights.parts["rotary_cos_sin_cache"]  # vLLM's rotary cache, built on every GPU
    sharded = est.weights_report.total_bytes - rep
    assert rep == 2 * 4096 * 32 * 2 + 4096 * 2  # two norms per layer and the final norm, bf16
    assert [s.weights for s in plan.shares] == [
        sharded // 2 + rep + rope,
        sharded - sharded // 2 + rep + rope,
    ]
    assert (
        sum(s.weights for s in plan.shares) == est.weights.bytes + rep + rope
    )  # replicated parts counted twice
    assert [s.kv_cache for s in plan.shares] == [est.kv_cache.bytes // 2] * 2  # 8 KV heads >= 2
    assert plan.mode == "tensor" and plan.fits


def test_vocabulary_and_experts_are_sharded(catalog):
    est = run(catalog, model="Qwen/Qwen3-30B-A3B", context=4096)  # 32 heads, 4 KV heads, 128 experts
    plan = split_tensor_parallel(est, [80 * GIB] * 4)
    by_role = est.weights_report.bytes_by_role()
    rep = replicated_bytes(est)
    assert rep == by_role[Role.NORM] + by_role[Role.ROUTER]  # experts, embedding and lm_head are not in it
    groups = len(est.weights_report.tensors)
    rep += est.weights.parts["rotary_cos_sin_cache"]  # vLLM's rotary cache, built on every GPU
    for share in plan.shares:  # each group split 1/4 (to the byte), the replicated ones whole
        assert share.weights == pytest.approx((est.weights.bytes - rep) / 4 + rep, abs=groups)
    assert sum(s.weights for s in plan.shares) == est.weights.bytes + 3 * rep


def test_kv_heads_replicate_when_fewer_than_gpus(catalog):
    """vLLM QKVParallelLinear: tp_size >= total_num_kv_heads -> one whole KV head per GPU."""
    est = run(catalog, context=4096)
    plan = split_tensor_parallel(est, [80 * GIB] * 16)  # 32 heads / 16 = 2; 8 KV heads < 16
    assert [s.kv_cache for s in plan.shares] == [est.kv_cache.bytes // 8] * 16
    assert sum(s.kv_cache for s in plan.shares) == 2 * est.kv_cache.bytes
    k_proj = est.weights_report.bytes_by_role()[Role.ATTN_K]
    four = split_tensor_parallel(est, [80 * GIB] * 4)
    # from 4 to 16 GPUs the K projection per GPU only halves (1/4 -> 1/8 of it), the rest quarters
    delta = four.shares[0].weights - plan.shares[0].weights
    rep = replicated_bytes(est)
    other = (
        est.weights_report.total_bytes - rep - 2 * k_proj
    )  # everything sharded 1/N (K and V have equal bytes)
    assert delta == pytest.approx(other / 4 - other / 16 + 2 * (k_proj / 4 - k_proj / 8), abs=16)
    assert any("replicates KV heads" in n for n in plan.notes)


def test_mla_latent_cache_is_on_every_gpu(catalog):
    est = run(catalog, model="deepseek-ai/DeepSeek-V2-Lite", context=4096)
    plan = split_tensor_parallel(est, [80 * GIB] * 2)
    assert [s.kv_cache for s in plan.shares] == [est.kv_cache.bytes] * 2
    assert any("MLA" in n for n in plan.notes)


def test_overhead_is_paid_on_every_gpu(catalog):
    est = run(catalog)
    plan = split_tensor_parallel(est, [80 * GIB] * 4)
    assert [s.overhead for s in plan.shares] == [est.overhead.bytes] * 4
    assert sum(s.overhead for s in plan.shares) == 4 * est.overhead.bytes


def test_activations_keep_residual_and_sampler_whole(catalog):
    est = run(catalog)
    est = run(catalog, max_num_batched_tokens=8192, max_num_seqs=1024)  # the sampler phase sets the peak
    parts = est.activations.parts
    plan = split_tensor_parallel(est, [80 * GIB] * 2)
    whole = parts["hidden_kept"] + parts["sampler"]
    split = est.activations.bytes - whole
    assert [s.activations for s in plan.shares] == [whole + split - split // 2, whole + split // 2]


def test_fits_headroom_and_margin(catalog):
    est = run(catalog, context=8192)
    roomy = split_tensor_parallel(est, [24 * GIB] * 2, margin_bytes=GIB)
    share = roomy.shares[0]
    assert share.headroom == 24 * GIB - share.total - GIB
    assert roomy.fits
    tight = split_tensor_parallel(est, [8 * GIB] * 2)
    assert not tight.fits and tight.shares[0].headroom < 0
    assert roomy.to_dict()["gpus"][0]["headroom"] == share.headroom


def test_catalog_gpus_bring_their_usable_memory(catalog, gpus):
    plan = split_tensor_parallel(run(catalog), [gpus["rtx-4090"], gpus["rtx-3090"]])
    assert plan.shares[0].capacity_bytes == gpus["rtx-4090"].usable_bytes
    assert plan.shares[1].name == gpus["rtx-3090"].name


def test_tensor_parallel_refusals(catalog):
    with pytest.raises(SettingsError, match="divisible"):
        split_tensor_parallel(run(catalog), [24 * GIB] * 3)  # 32 heads over 3 GPUs
    with pytest.raises(SettingsError, match="host"):
        split_tensor_parallel(run(catalog, fmt="q4_k_m", engine="llama.cpp"), [24 * GIB] * 2)
    with pytest.raises(SettingsError, match="at least one"):
        split_tensor_parallel(run(catalog), [])
    with pytest.raises(SettingsError, match="positive"):
        split_tensor_parallel(run(catalog), [0, 24 * GIB])


# ---------------------------------------------------------------------------------------------
# layer split
# ---------------------------------------------------------------------------------------------


def test_llamacpp_split_points_for_equal_gpus():
    """33 slots (32 layers + output) over two equal GPUs: il / 33 < 0.5 for il <= 16."""
    devices = layer_devices([24.0, 24.0], 0, 33)
    assert [il for il, d in devices.items() if d == 0] == list(range(17))
    assert devices[32] == 1  # the output layer on the last GPU


def test_mixed_cards_get_layers_in_proportion(catalog):
    est = run(catalog, fmt="q4_k_m", engine="llama.cpp", context=8192)
    plan = split_layers(est, [24 * GIB, 12 * GIB])
    assert plan.shares[0].layers == tuple(range(22))  # il / 33 < 2/3
    assert plan.shares[1].layers == (*range(22, 32), 32)  # ... and the output layer
    per_layer_kv = est.kv_cache.bytes // 32
    assert [s.kv_cache for s in plan.shares] == [22 * per_layer_kv, 10 * per_layer_kv]
    assert plan.mode == "layer"


def test_layer_split_sums_match_the_single_gpu_estimate(catalog):
    est = run(catalog, fmt="q4_k_m", engine="llama.cpp", context=8192)
    plan = split_layers(est, [24 * GIB, 16 * GIB, 12 * GIB])
    assert sum(s.weights for s in plan.shares) == est.weights.bytes
    assert sum(s.kv_cache for s in plan.shares) == est.kv_cache.bytes
    assert all(s.activations == est.activations.bytes for s in plan.shares)  # one compute buffer per GPU
    assert sum(s.overhead for s in plan.shares) == 3 * est.overhead.bytes
    output = est.weights.parts["output_layer"]
    layer_bytes = est.weights.parts["layers"]
    assert plan.shares[2].weights - output < layer_bytes / 3  # the last GPU also holds the output layer


def test_tensor_split_overrides_capacity(catalog):
    est = run(catalog, fmt="q4_k_m", engine="llama.cpp")
    plan = split_layers(est, [24 * GIB, 24 * GIB], tensor_split=[3, 1])
    assert len(plan.shares[0].layers) == 25  # il / 33 < 0.75 for il <= 24
    assert "--tensor-split 3:1" in " ".join(plan.notes)
    with pytest.raises(SettingsError, match="tensor_split"):
        split_layers(est, [24 * GIB, 24 * GIB], tensor_split=[1])


def test_partial_offload_splits_only_the_gpu_layers(catalog):
    est = run(catalog, fmt="q4_k_m", engine="llama.cpp", context=4096, gpu_layers=21)  # layers 12-31 + output
    plan = split_layers(est, [8 * GIB, 8 * GIB])
    layers = sorted(il for s in plan.shares for il in s.layers)
    assert layers == list(range(12, 33))
    assert sum(s.weights for s in plan.shares) == est.weights.bytes
    assert sum(s.kv_cache for s in plan.shares) == est.kv_cache.bytes
    assert set(layer_kv_bytes(est)) == set(range(12, 32))


def test_tied_model_duplicates_the_head_on_the_output_gpu(catalog):
    est = run(catalog, fmt="q8_0", engine="llama.cpp", model="meta-llama/Llama-3.2-1B-Instruct")
    plan = split_layers(est, [8 * GIB, 8 * GIB])
    embedding = est.weights_report.bytes_by_role()[Role.EMBEDDING]
    assert est.weights.parts["output_layer"] >= embedding  # token_embd duplicated as output (llama.cpp)
    assert sum(s.weights for s in plan.shares) == est.weights.bytes
    assert plan.shares[1].weights > plan.shares[0].weights


def test_pipeline_stages_for_other_engines(catalog):
    est = run(catalog, context=4096)  # vLLM: embedding on the first stage, lm_head on the last
    plan = split_layers(est, [40 * GIB, 40 * GIB])
    by_role = est.weights_report.bytes_by_role()
    assert plan.shares[0].weights > by_role[Role.EMBEDDING]
    rope = est.weights.parts["rotary_cos_sin_cache"]  # every stage builds vLLM's rotary cache
    assert sum(s.weights for s in plan.shares) == est.weights.bytes + rope  # untied: nothing else duplicated
    assert sum(s.kv_cache for s in plan.shares) == est.kv_cache.bytes


def test_hybrid_model_kv_follows_its_layers(catalog):
    est = run(catalog, fmt="q4_k_m", engine="llama.cpp", model="google/gemma-3-4b-it", context=32768)
    per_layer = layer_kv_bytes(est)
    assert sum(per_layer.values()) == est.kv_cache.bytes
    full = [layer.index for layer in est.model.layers if layer.window is None]
    sliding = [layer.index for layer in est.model.layers if layer.window is not None]
    assert full and sliding
    assert per_layer[full[0]] > 4 * per_layer[sliding[0]]  # 32k cells against the 1k-token window


def test_share_arithmetic():
    share = GpuShare(0, "GPU 0", 100, 40, 20, 10, 5, margin_bytes=10)
    assert share.total == 75 and share.headroom == 15 and share.fits
