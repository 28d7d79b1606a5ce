"""llama.cpp partial offload (-ngl) and experts to the CPU (--n-cpu-moe): exact moves and boundaries."""

from dataclasses import replace

import pytest

from planner.catalog import load_catalog
from planner.engines import estimate
from planner.fit import (
    FitError,
    budget_from_gpu,
    budget_from_size,
    cpu_moe_plan,
    expert_bytes_by_layer,
    experts_on_cpu,
    fit_estimate,
    offload_plan,
)
from planner.fit.offload import expert_tensors
from planner.formats import parse_format
from planner.memory.estimate import RunSettings
from planner.model.spec import ROUTED_EXPERT_ROLES

GIB = 1 << 30
MIXTRAL = "mistralai/Mixtral-8x7B-Instruct-v0.1"
LLAMA_70B = "meta-llama/Llama-3.1-70B-Instruct"


def spec_of(model_id):
    return load_catalog()[model_id].spec()


# ---------------------------------------------------------------------------------------------
# -ngl
# ---------------------------------------------------------------------------------------------


def test_offload_plan_finds_the_largest_ngl_that_fits():
    spec = spec_of(LLAMA_70B)
    budget = budget_from_gpu("4090")
    plan = offload_plan(spec, parse_format("q4_k_m"), RunSettings(), budget, host_ram_bytes=64 * GIB)
    assert plan.gpu_layers is not None and 0 < plan.gpu_layers < spec.num_layers + 1
    assert plan.fit.fits and plan.fit.estimate.settings.gpu_layers == plan.gpu_layers
    more = estimate(spec, parse_format("q4_k_m"), "llama.cpp", RunSettings(gpu_layers=plan.gpu_layers + 1))
    assert not fit_estimate(more, budget).fits
    assert plan.repeating_on_gpu == plan.gpu_layers - 1
    assert plan.flag == f"-ngl {plan.gpu_layers}"
    assert plan.host_bytes == plan.fit.estimate.host_total > 0
    assert plan.host_fits is True
    assert plan.experts is None  # dense model


def test_gpu_bytes_grow_with_ngl_so_the_search_is_sound():
    spec = spec_of("Qwen/Qwen2.5-7B-Instruct")
    fmt = parse_format("q4_k_m")
    totals = [
        estimate(spec, fmt, "llama.cpp", RunSettings(gpu_layers=n)).total for n in range(spec.num_layers + 2)
    ]
    assert totals == sorted(totals)


def test_offload_counts_are_monotone_in_vram():
    spec = spec_of(LLAMA_70B)
    layers = [
        offload_plan(spec, parse_format("q4_k_m"), RunSettings(), budget_from_size(f"{gib}GiB")).gpu_layers
        or 0
        for gib in (4, 8, 12, 16, 24, 32, 48, 64)
    ]
    assert layers == sorted(layers)
    assert layers[-1] == spec.num_layers + 1  # 64 GiB holds the whole q4_k_m model


def test_everything_on_the_gpu_when_it_fits():
    spec = spec_of("meta-llama/Llama-3.1-8B-Instruct")
    plan = offload_plan(spec, parse_format("q4_k_m"), RunSettings(gpu_layers=10), budget_from_gpu("4090"))
    assert plan.all_on_gpu and plan.gpu_layers == spec.num_layers + 1
    assert any("ignored" in n for n in plan.notes)


def test_nothing_fits_when_the_gpu_is_smaller_than_the_margin():
    plan = offload_plan(spec_of(LLAMA_70B), parse_format("q4_k_m"), RunSettings(), budget_from_size("1GiB"))
    assert plan.gpu_layers is None and not plan.fit.fits and plan.flag == ""


def test_host_memory_shortfall_is_reported():
    plan = offload_plan(
        spec_of(LLAMA_70B),
        parse_format("q4_k_m"),
        RunSettings(),
        budget_from_gpu("4090"),
        host_ram_bytes=8 * GIB,
    )
    assert plan.host_fits is False
    assert any("host memory short" in n for n in plan.notes)


def test_offload_is_a_llamacpp_plan():
    with pytest.raises(FitError, match="GGUF"):
        offload_plan(spec_of(LLAMA_70B), parse_format("bf16"), RunSettings(), budget_from_gpu("4090"))


# ---------------------------------------------------------------------------------------------
# --n-cpu-moe
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [MIXTRAL, "Qwen/Qwen3-30B-A3B", "deepseek-ai/DeepSeek-V2-Lite"])
def test_the_expert_pattern_selects_exactly_the_routed_experts(model):
    spec = spec_of(model)
    report = parse_format("q4_k_m").weights(spec)
    assert sum(expert_bytes_by_layer(spec, parse_format("q4_k_m")).values()) == report.bytes_where(
        ROUTED_EXPERT_ROLES
    )
    names = [t.name for t in expert_tensors(spec, parse_format("q4_k_m"))]
    assert names and not any("shexp" in n or "gate_inp" in n for n in names)


def test_expert_pattern_takes_fused_gate_up_and_expert_biases():
    names = {
        t.name for t in expert_tensors(spec_of("openai/gpt-oss-20b"), parse_format("q4_k_m")) if t.layer == 3
    }
    assert names == {
        "blk.3.ffn_gate_up_exps.weight",
        "blk.3.ffn_gate_up_exps.bias",
        "blk.3.ffn_down_exps.weight",
        "blk.3.ffn_down_exps.bias",
    }


@pytest.mark.parametrize("n", [1, 7, 32])
def test_experts_to_cpu_moves_exactly_the_expert_bytes(n):
    spec = spec_of(MIXTRAL)
    base = estimate(spec, parse_format("q4_k_m"), "llama.cpp", RunSettings())
    moved = experts_on_cpu(spec, parse_format("q4_k_m"), RunSettings(), n)
    per_layer = expert_bytes_by_layer(spec, parse_format("q4_k_m"))
    expected = sum(b for layer, b in per_layer.items() if layer < n)
    assert base.weights.bytes - moved.weights.bytes == expected
    assert moved.host_weights.bytes - base.host_weights.bytes == expected
    assert moved.host_weights.parts["cpu_moe_experts"] == expected
    assert moved.kv_cache == base.kv_cache  # attention and KV stay on the GPU
    staging = max(t.nbytes for t in expert_tensors(spec, parse_format("q4_k_m")) if t.layer < n)
    assert moved.activations.bytes - base.activations.bytes == staging
    for fig in (moved.weights, moved.host_weights, moved.activations):
        assert sum(fig.parts.values()) == fig.bytes
        assert fig.band[0] <= fig.bytes <= fig.band[1]
    assert any("--n-cpu-moe" in note for note in moved.notes)


def test_no_experts_moved_is_the_plain_estimate():
    spec = spec_of(MIXTRAL)
    assert experts_on_cpu(spec, parse_format("q4_k_m"), RunSettings(), 0) == estimate(
        spec, parse_format("q4_k_m"), "llama.cpp", RunSettings()
    )


def test_cpu_moe_plan_finds_the_fewest_layers_to_move():
    spec = spec_of(MIXTRAL)
    budget = budget_from_gpu("4090")
    plan = cpu_moe_plan(spec, parse_format("q4_k_m"), RunSettings(), budget, host_ram_bytes=32 * GIB)
    n = plan.n_cpu_moe
    assert n is not None and 0 < n < spec.num_layers
    assert plan.fit.fits
    assert not fit_estimate(experts_on_cpu(spec, parse_format("q4_k_m"), RunSettings(), n - 1), budget).fits
    assert plan.moved_bytes == sum(
        b for layer, b in expert_bytes_by_layer(spec, parse_format("q4_k_m")).items() if layer < n
    )
    assert plan.flag == f"-ngl 99 --n-cpu-moe {n}"
    assert plan.host_fits is True


def test_moe_offload_plan_offers_the_experts_variant():
    spec = spec_of(MIXTRAL)
    plan = offload_plan(spec, parse_format("q4_k_m"), RunSettings(), budget_from_gpu("4090"))
    assert plan.experts is not None and plan.experts.n_cpu_moe is not None
    # moving experts instead of whole layers keeps every layer's attention on the GPU
    assert plan.experts.fit.estimate.settings.gpu_layers is None


def test_cpu_moe_plan_when_even_all_experts_out_is_not_enough():
    plan = cpu_moe_plan(spec_of(MIXTRAL), parse_format("q4_k_m"), RunSettings(), budget_from_size("2GiB"))
    assert plan.n_cpu_moe is None and not plan.fit.fits and plan.flag == ""


def test_cpu_moe_plan_when_everything_fits():
    plan = cpu_moe_plan(
        spec_of("Qwen/Qwen3-30B-A3B"), parse_format("q4_k_m"), RunSettings(), budget_from_gpu("h100-sxm")
    )
    assert plan.n_cpu_moe == 0 and plan.moved_bytes == 0 and plan.flag == "-ngl 99"


@pytest.mark.parametrize("n", [-1, 33, True])
def test_absurd_layer_counts_are_refused(n):
    with pytest.raises(FitError):
        experts_on_cpu(spec_of(MIXTRAL), parse_format("q4_k_m"), RunSettings(), n)


def test_dense_models_have_no_experts_to_move():
    with pytest.raises(FitError, match="no routed experts"):
        experts_on_cpu(spec_of(LLAMA_70B), parse_format("q4_k_m"), RunSettings(), 1)


def test_experts_on_cpu_ignores_a_partial_ngl():
    spec = spec_of(MIXTRAL)
    moved = experts_on_cpu(spec, parse_format("q4_k_m"), replace(RunSettings(), gpu_layers=5), 2)
    assert moved.settings.gpu_layers is None
