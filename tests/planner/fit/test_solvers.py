"""Fit solvers: headroom sign, exact boundaries for context and batch, vLLM KV capacity, best format order."""

import math
from dataclasses import replace

import pytest

from planner.catalog import load_catalog
from planner.engines import estimate
from planner.errors import PlannerError
from planner.fit import (
    FitError,
    best_format,
    budget_from_gpu,
    budget_from_size,
    fit_estimate,
    fits,
    max_batch,
    max_context,
    representative_formats,
    vllm_kv_capacity,
)
from planner.formats import parse_format
from planner.memory import kv
from planner.memory.estimate import RunSettings

MIB, GIB = 1 << 20, 1 << 30
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"


@pytest.fixture(scope="module")
def llama():
    return load_catalog()[LLAMA].spec()


def spec_of(model_id):
    return load_catalog()[model_id].spec()


# ---------------------------------------------------------------------------------------------
# fits and headroom
# ---------------------------------------------------------------------------------------------


def test_headroom_is_usable_minus_required_and_its_sign_decides(llama):
    roomy = fits(llama, parse_format("bf16"), None, RunSettings(), budget_from_gpu("4090"))
    assert roomy.fits and roomy.headroom_bytes > 0
    assert roomy.headroom_bytes == roomy.usable_bytes - roomy.required_bytes
    assert roomy.required_bytes == roomy.estimate.total  # transformers charges everything
    tight = fits(llama, parse_format("bf16"), None, RunSettings(), budget_from_size("12GiB"))
    assert not tight.fits and tight.headroom_bytes < 0
    assert tight.per_gpu[0].headroom_bytes == tight.headroom_bytes


def test_the_boundary_is_exact_to_the_byte(llama):
    est = estimate(llama, parse_format("q4_k_m"), "llama.cpp", RunSettings())
    exact = budget_from_size(est.total + 1024 * MIB)  # llama.cpp keeps 1024 MiB free
    assert fit_estimate(est, exact).fits and fit_estimate(est, exact).headroom_bytes == 0
    short = fit_estimate(est, budget_from_size(est.total + 1024 * MIB - 1))
    assert not short.fits and short.headroom_bytes == -1


def test_fits_answers_with_the_estimate_behind_it(llama):
    result = fits(llama, parse_format("q4_k_m"), None, RunSettings(context=8192), budget_from_gpu("4090"))
    assert result.estimate.engine == "llama.cpp"
    assert result.estimate.settings.context == 8192
    assert result.estimate.format.id == "q4_k_m"


def test_a_gpu_without_engine_support_blocks_the_fit(llama):
    result = fits(llama, parse_format("bf16"), "vllm", RunSettings(), budget_from_gpu("v100-sxm2-32gb"))
    assert not result.fits and result.headroom_bytes > 0
    assert any("vLLM does not run" in b for b in result.blockers)


def test_several_gpus_split_layers_and_the_tightest_gpu_decides(llama):
    result = fits(llama, parse_format("bf16"), None, RunSettings(), budget_from_size("10GiB", count=2))
    assert result.split is not None and result.split.mode == "layer"
    assert len(result.per_gpu) == 2
    assert result.required_bytes == sum(s.used_bytes for s in result.per_gpu) == result.split.total
    assert result.required_bytes > result.estimate.total  # each GPU has its own context and buffers
    assert result.headroom_bytes == result.usable_bytes - result.required_bytes
    assert result.usable_bytes == sum(s.usable_bytes for s in result.per_gpu)
    assert result.tightest == min(result.per_gpu, key=lambda s: s.headroom_bytes)
    assert result.fits is (result.tightest.headroom_bytes >= 0)
    assert result.fits == result.split.fits == (result.headroom_bytes >= 0)


def test_vllm_splits_tensors_and_keeps_its_cuda_context_outside_the_pool(llama):
    budget = budget_from_gpu("4090", count=2)
    result = fits(llama, parse_format("bf16"), "vllm", RunSettings(), budget)
    assert result.split is not None and result.split.mode == "tensor"
    parts = result.estimate.overhead.parts
    outside = parts["cuda_context"] + parts["cuda_graphs"]  # both sit outside the utilization pool (v0.19)
    for device, share in zip(result.per_gpu, result.split.shares, strict=True):
        assert device.used_bytes == share.total - outside
        assert device.usable_bytes == int(budget.devices[0].total_bytes * 0.9)
        assert device.headroom_bytes == share.headroom


@pytest.mark.parametrize("engine", ["sglang", "trtllm"])
def test_sglang_and_trtllm_split_tensors_too(llama, engine):
    budget = budget_from_gpu("4090", count=2)
    result = fits(llama, parse_format("bf16"), engine, RunSettings(), budget)
    assert result.split is not None and result.split.mode == "tensor"
    assert result.fits


def test_a_tensor_parallel_size_the_model_cannot_take_blocks_the_fit(llama):
    result = fits(llama, parse_format("bf16"), "vllm", RunSettings(), budget_from_gpu("h100-sxm", count=3))
    assert not result.fits and result.split is None
    assert any("divisible" in b for b in result.blockers)


def test_several_live_gpus_of_different_sizes_get_their_own_room(llama):
    budget = replace(
        budget_from_size("16GiB", count=2),
        devices=(budget_from_size("16GiB").devices[0], budget_from_size("8GiB").devices[0]),
    )
    result = fits(llama, parse_format("q8_0"), None, RunSettings(), budget)
    assert [d.usable_bytes for d in result.per_gpu] == [15 * GIB, 7 * GIB]
    layers = [len(s.layers) for s in result.split.shares]
    assert layers[0] > layers[1]  # llama.cpp splits by free memory


def test_engine_refusals_are_planner_errors(llama):
    with pytest.raises(PlannerError):
        fits(llama, parse_format("bnb-nf4"), "llama.cpp", RunSettings(), budget_from_gpu("4090"))


# ---------------------------------------------------------------------------------------------
# max context and max batch: value fits, value + 1 does not
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "engine", "gpu"),
    [("bf16", "transformers", "4090"), ("bnb-nf4", "transformers", "rtx-3060"),
     ("bf16", "vllm", "4090"), ("q5_k_m", "llama.cpp", "rtx-4060-ti-8gb")],
)  # fmt: skip
def test_max_context_is_an_exact_boundary(llama, fmt, engine, gpu):
    fmt = parse_format(fmt)
    budget = budget_from_gpu(gpu)
    limit = max_context(llama, fmt, engine, RunSettings(), budget)
    assert limit.value is not None and not limit.capped
    assert limit.fit.fits and limit.fit.estimate.settings.context == limit.value
    assert limit.beyond is not None and not limit.beyond.fits
    assert limit.beyond.estimate.settings.context == limit.value + 1
    # independently: the solver's own fits() agrees on both sides
    assert fits(llama, fmt, engine, RunSettings(context=limit.value), budget).fits
    assert not fits(llama, fmt, engine, RunSettings(context=limit.value + 1), budget).fits


def test_llamacpp_max_context_lands_on_a_padding_step(llama):
    limit = max_context(
        llama, parse_format("q4_k_m"), "llama.cpp", RunSettings(), budget_from_gpu("rtx-4060-ti-8gb")
    )
    assert limit.value % 256 == 0  # n_ctx is padded to 256 cells: the last context of a step fits


def test_max_context_is_capped_at_the_models_limit(llama):
    limit = max_context(llama, parse_format("q4_k_m"), None, RunSettings(), budget_from_gpu("h100-sxm"))
    assert limit.capped and limit.value == llama.max_position_embeddings == 131072
    assert limit.beyond is None
    assert any("capped" in n for n in limit.notes)


def test_max_context_is_none_when_one_token_does_not_fit():
    spec = spec_of("meta-llama/Llama-3.1-70B-Instruct")
    limit = max_context(spec, parse_format("bf16"), None, RunSettings(), budget_from_gpu("4090"))
    assert limit.value is None and not limit.fit.fits
    assert any("nothing fits" in n for n in limit.notes)


def test_max_context_grows_with_batch_shrinking(llama):
    budget = budget_from_gpu("4090")
    one = max_context(llama, parse_format("bf16"), None, RunSettings(batch=1), budget).value
    four = max_context(llama, parse_format("bf16"), None, RunSettings(batch=4), budget).value
    assert one > four > 0


@pytest.mark.parametrize(
    ("fmt", "engine"), [("bf16", "transformers"), ("q4_k_m", "llama.cpp"), ("awq-int4", "vllm")]
)
def test_max_batch_is_an_exact_boundary(llama, fmt, engine):
    fmt = parse_format(fmt)
    budget = budget_from_gpu("4090")
    settings = RunSettings(context=8192)
    limit = max_batch(llama, fmt, engine, settings, budget)
    assert limit.value is not None and limit.fit.fits
    if limit.capped:
        assert engine == "vllm" and limit.value == 256
    else:
        assert limit.beyond.estimate.settings.batch == limit.value + 1 and not limit.beyond.fits
        assert not fits(llama, fmt, engine, replace(settings, batch=limit.value + 1), budget).fits


def test_vllm_max_batch_is_capped_at_max_num_seqs():
    spec = spec_of("Qwen/Qwen2.5-0.5B-Instruct")
    limit = max_batch(
        spec, parse_format("bf16"), "vllm", RunSettings(context=512), budget_from_gpu("h100-sxm")
    )
    assert limit.capped and limit.value == 256
    assert any("max_num_seqs" in n for n in limit.notes)


def test_units_change_the_answer_at_the_boundary(llama):
    gb = budget_from_size("24GB")
    gib = budget_from_size("24GiB")
    small = max_context(llama, parse_format("bf16"), "transformers", RunSettings(), gb)
    large = max_context(llama, parse_format("bf16"), "transformers", RunSettings(), gib)
    assert small.value < large.value
    just_over = RunSettings(context=small.value + 1)
    assert not fits(llama, parse_format("bf16"), "transformers", just_over, gb).fits
    assert fits(llama, parse_format("bf16"), "transformers", just_over, gib).fits


# ---------------------------------------------------------------------------------------------
# vLLM KV capacity
# ---------------------------------------------------------------------------------------------


def test_vllm_kv_capacity_follows_vllms_block_arithmetic(llama):
    budget = budget_from_gpu("h100-sxm")
    cap = vllm_kv_capacity(llama, parse_format("bf16"), RunSettings(context=8192), budget)
    est = cap.estimate
    # one 16-token block of one layer: 8 KV heads x 128 dims x (K + V) x 2 B x 16 tokens
    assert cap.page_bytes == 8 * 128 * 2 * 2 * 16 == 65536
    assert cap.layers_per_block == 32 and cap.block_tokens == 16
    usable = int(budget.devices[0].total_bytes * 0.9)
    pool_free = usable - est.weights.bytes - est.activations.bytes - est.overhead.bytes
    outside = est.overhead.parts["cuda_context"] + est.overhead.parts["cuda_graphs"]
    assert cap.available_bytes == pool_free + outside
    assert cap.num_blocks == cap.available_bytes // cap.page_bytes // 32
    assert cap.tokens == cap.num_blocks * 16
    assert cap.blocks_per_request == kv.cdiv(8192, 16)
    assert cap.max_concurrency == pytest.approx(cap.num_blocks / 512)


@pytest.mark.parametrize(
    ("model", "context"),
    [(LLAMA, 8192), ("google/gemma-3-12b-it", 32768), ("openai/gpt-oss-20b", 65536),
     ("ibm-granite/granite-4.0-h-small", 16384)],
)  # fmt: skip
def test_vllm_concurrency_agrees_with_the_largest_batch_that_fits(model, context):
    spec = spec_of(model)
    fmt = parse_format("mxfp4" if "gpt-oss" in model else "bf16")
    budget = budget_from_gpu("h100-sxm")
    settings = RunSettings(context=context)
    cap = vllm_kv_capacity(spec, fmt, settings, budget)
    limit = max_batch(spec, fmt, "vllm", settings, budget)
    assert limit.value == min(math.floor(cap.max_concurrency), 256)


def test_vllm_hybrid_tokens_are_blocks_per_group(llama):
    spec = spec_of("google/gemma-3-12b-it")
    cap = vllm_kv_capacity(
        spec, parse_format("bf16"), RunSettings(context=32768), budget_from_gpu("h100-sxm")
    )
    groups = 6  # 40 sliding + 8 full layers in groups of 8
    assert cap.layers_per_block == 8
    assert cap.num_blocks == cap.available_bytes // cap.page_bytes // 8
    assert cap.tokens == cap.num_blocks // groups * cap.block_tokens


def test_vllm_kv_capacity_says_when_one_request_does_not_fit(llama):
    cap = vllm_kv_capacity(llama, parse_format("bf16"), RunSettings(context=131072), budget_from_gpu("4090"))
    assert cap.max_concurrency < 1
    assert any("refuse to start" in n for n in cap.notes)


def test_vllm_kv_capacity_is_for_one_gpu(llama):
    with pytest.raises(FitError):
        vllm_kv_capacity(llama, parse_format("bf16"), RunSettings(), budget_from_gpu("4090", count=2))


# ---------------------------------------------------------------------------------------------
# best format
# ---------------------------------------------------------------------------------------------


def test_best_format_orders_by_bits_and_picks_the_first_that_fits(llama):
    options = best_format(llama, None, RunSettings(context=32768), budget_from_gpu("rtx-3060"))
    bits = [o.fit.estimate.weights_report.bits_per_weight for o in options]
    assert bits == sorted(bits, reverse=True)
    picks = [i for i, o in enumerate(options) if o.pick]
    assert len(picks) == 1
    assert options[picks[0]].fit.fits
    assert not any(o.fit.fits for o in options[: picks[0]])
    fid, fit, pick = options[picks[0]]  # unpacks as (format id, FitResult, pick)
    assert fid == fit.estimate.format.id and pick


def test_best_format_leaves_out_what_the_engine_does_not_load(llama):
    options = best_format(
        llama, "llama.cpp", RunSettings(), budget_from_gpu("4090"), ["bf16", "q4_k_m", "q8_0"]
    )
    assert [o.format_id for o in options] == ["q8_0", "q4_k_m"]
    assert options[0].pick


def test_best_format_picks_nothing_when_nothing_fits():
    spec = spec_of("meta-llama/Llama-3.1-405B-Instruct")
    options = best_format(spec, None, RunSettings(), budget_from_gpu("4090"))
    assert options and not any(o.pick or o.fit.fits for o in options)


@pytest.mark.parametrize("engine", [None, "llama.cpp", "transformers", "vllm"])
def test_representative_formats_are_loadable(engine):
    from planner.engines import get_engine

    ids = representative_formats(engine)
    assert len(ids) >= 5
    for fid in ids:
        fmt = parse_format(fid)
        assert engine is None or get_engine(engine).loads(fmt)
