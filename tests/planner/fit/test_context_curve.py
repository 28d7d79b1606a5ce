"""Memory against context: grids, curves with their exact max-context mark, per-kind cache growth, explanations."""

from dataclasses import replace

import pytest

from planner.catalog import load_catalog
from planner.engines import estimate
from planner.engines.constants import constant
from planner.fit import budget_from_gpu, budget_from_size, max_context
from planner.fit.context import (
    NOTABLE_GROWTH,
    cache_shapes,
    context_curve,
    context_explanation,
    context_grid,
    growth_notes,
)
from planner.formats import parse_format
from planner.memory.estimate import MAX_CONTEXT, RunSettings, SettingsError
from planner.model.spec import AttentionKind

MIB, GIB = 1 << 20, 1 << 30
LLAMA = "meta-llama/Llama-3.1-8B"
GEMMA = "google/gemma-3-12b-it"
DEEPSEEK = "deepseek-ai/DeepSeek-V2-Lite"
JAMBA = "ai21labs/Jamba-v0.1"
MAMBA = "mistralai/Mamba-Codestral-7B-v0.1"


def spec_of(model_id):
    return load_catalog()[model_id].spec()


def kv_settings(kv="auto", **kw):
    return RunSettings(kv_dtype_k=kv, kv_dtype_v=kv, **kw)


# ---------------------------------------------------------------------------------------------
# grid
# ---------------------------------------------------------------------------------------------


def test_grid_is_powers_of_two_then_the_cap():
    assert context_grid(5000) == (512, 1024, 2048, 4096, 5000)
    assert context_grid(4096) == (512, 1024, 2048, 4096)
    assert context_grid(100) == (100,)
    assert context_grid(MAX_CONTEXT)[-1] == MAX_CONTEXT


@pytest.mark.parametrize("cap", [0, -5, MAX_CONTEXT + 1])
def test_grid_refuses_absurd_caps(cap):
    with pytest.raises(SettingsError):
        context_grid(cap)


# ---------------------------------------------------------------------------------------------
# curves
# ---------------------------------------------------------------------------------------------


def test_curve_points_are_the_engine_estimates_and_grow():
    spec = spec_of(LLAMA)
    budget = budget_from_gpu("rtx-4090")
    curve = context_curve(spec, parse_format("bf16"), None, kv_settings(context=8192), budget)
    assert curve.engine == "transformers" and curve.kv_dtype == "bf16"
    contexts = [c for c, _ in curve.points]
    assert contexts == sorted(contexts) and contexts[0] == 512
    totals = [b for _, b in curve.points]
    assert totals == sorted(totals)
    fmt = parse_format("bf16")
    for context, total in curve.points:
        assert estimate(spec, fmt, "transformers", kv_settings(context=context)).total == total
    assert curve.estimate.settings.context == 8192
    assert curve.label == "bf16 · transformers · KV bf16"


def test_the_mark_is_the_solver_boundary_and_lies_on_the_curve():
    spec = spec_of(LLAMA)
    budget = budget_from_gpu("rtx-4090")
    curve = context_curve(spec, parse_format("bf16"), None, kv_settings(), budget)
    limit = max_context(spec, parse_format("bf16"), None, kv_settings(), budget)
    assert curve.max_context == limit.value and not limit.capped
    points = dict(curve.points)
    assert points[curve.max_context] <= curve.limit_total_bytes
    beyond = estimate(spec, parse_format("bf16"), "transformers", kv_settings(context=curve.max_context + 1))
    assert beyond.total > curve.limit_total_bytes


def test_limit_line_per_engine():
    spec = spec_of(LLAMA)
    budget = budget_from_size("24GiB")
    transformers = context_curve(spec, parse_format("bnb-nf4"), "transformers", kv_settings(), budget)
    assert transformers.limit_total_bytes == 24 * GIB  # no margin
    llamacpp = context_curve(spec, parse_format("q4_k_m"), None, kv_settings(), budget)
    assert llamacpp.limit_total_bytes == 24 * GIB - 1024 * MIB  # --fit-target
    vllm = context_curve(spec, parse_format("awq-int4"), "vllm", kv_settings(), budget)
    pool = int(24 * GIB * 0.9)
    assert (
        vllm.limit_total_bytes
        == pool + constant("cuda_context_mib").bytes + constant("vllm_cudagraph_mib").bytes
    )


def test_a_model_that_fits_to_its_own_limit_is_capped():
    spec = spec_of(LLAMA)
    curve = context_curve(
        spec, parse_format("q4_k_m"), None, kv_settings("q4_0"), budget_from_gpu("h100-sxm")
    )
    assert curve.limit.capped and curve.max_context == spec.max_position_embeddings
    assert curve.points[-1][0] == spec.max_position_embeddings


def test_nothing_fits_gives_no_mark_but_still_a_curve():
    spec = spec_of(LLAMA)
    curve = context_curve(spec, parse_format("bf16"), None, kv_settings(), budget_from_size("8GiB"))
    assert curve.max_context is None
    assert len(curve.points) == len(context_grid(spec.max_position_embeddings))


def test_custom_contexts_and_quantized_cache_lower_the_kv_part():
    spec = spec_of(LLAMA)
    budget = budget_from_size("12GiB")
    grid = (1024, 4096, 16384)
    f16 = context_curve(spec, parse_format("q4_k_m"), None, kv_settings("f16"), budget, contexts=grid)
    q8 = context_curve(spec, parse_format("q4_k_m"), None, kv_settings("q8_0"), budget, contexts=grid)
    assert {c for c, _ in f16.points} == {*grid, f16.max_context}
    a, b = dict(f16.kv_points), dict(q8.kv_points)
    for c in grid:
        assert b[c] * 32 == a[c] * 17  # q8_0: 34 B per 32 elements against 64 B in f16
    assert q8.max_context > f16.max_context


@pytest.mark.parametrize(
    ("fmt", "engine", "kv"),
    [("bf16", "transformers", "q8_0"), ("bf16", "llama.cpp", "auto"), ("q4_k_m", None, "bogus")],
)
def test_refused_combinations_raise_settings_errors(fmt, engine, kv):
    with pytest.raises(SettingsError):
        context_curve(spec_of(LLAMA), parse_format(fmt), engine, kv_settings(kv), budget_from_gpu("rtx-4090"))


# ---------------------------------------------------------------------------------------------
# cache shapes
# ---------------------------------------------------------------------------------------------


def _est(model_id, fmt="q4_k_m", engine=None, kv="auto", **kw):
    return estimate(spec_of(model_id), parse_format(fmt), engine, kv_settings(kv, **kw))


def test_full_attention_bytes_per_token():
    (full,) = cache_shapes(_est(LLAMA))
    assert full.kind is AttentionKind.FULL and full.layers == 32
    assert full.elements_per_token == 32 * 8 * (128 + 128)
    assert full.bytes_per_token == 32 * 8 * 256 * 2  # f16: 128 KiB per token
    (q8,) = cache_shapes(_est(LLAMA, kv="q8_0"))
    assert q8.bytes_per_token == 32 * 8 * 256 // 32 * 34


@pytest.mark.parametrize(
    ("engine", "fmt", "kv", "step"),
    [("transformers", "bf16", "auto", 1), ("llama.cpp", "q4_k_m", "q4_0", 256), ("vllm", "fp8", "fp8", 16)],
)
def test_growth_per_token_matches_each_engine_cache(engine, fmt, kv, step):
    """One step of the engine's allocation adds exactly step x bytes_per_token on a full-attention model."""
    a = _est(LLAMA, fmt, engine, kv, context=4096)
    b = _est(LLAMA, fmt, engine, kv, context=4096 + step)
    (full,) = cache_shapes(a)
    assert b.kv_cache.bytes - a.kv_cache.bytes == step * full.bytes_per_token


def test_sliding_layers_carry_the_window_and_stop_growing():
    est = _est(GEMMA, "bf16", "transformers")
    shapes = {s.kind: s for s in cache_shapes(est)}
    spec = spec_of(GEMMA)
    assert set(shapes) == {AttentionKind.FULL, AttentionKind.SLIDING}
    assert shapes[AttentionKind.FULL].layers + shapes[AttentionKind.SLIDING].layers == spec.num_layers
    window = shapes[AttentionKind.SLIDING].window
    assert window == next(layer.window for layer in spec.layers if layer.attention is AttentionKind.SLIDING)
    far = _est(GEMMA, "bf16", "transformers", context=4 * window)
    further = _est(GEMMA, "bf16", "transformers", context=4 * window + 1)
    assert further.kv_cache.bytes - far.kv_cache.bytes == shapes[AttentionKind.FULL].bytes_per_token
    assert further.kv_cache.parts["sliding"] == far.kv_cache.parts["sliding"]


def test_mla_caches_the_latent():
    (mla,) = cache_shapes(_est(DEEPSEEK))
    assert mla.kind is AttentionKind.MLA and mla.layers == 27
    assert mla.elements_per_token == 27 * 576 and mla.bytes_per_token == 27 * 576 * 2


def test_linear_layers_hold_a_fixed_state_per_sequence():
    one = {s.kind: s for s in cache_shapes(_est(JAMBA, "bf16", "transformers"))}
    four = {s.kind: s for s in cache_shapes(_est(JAMBA, "bf16", "transformers", batch=4))}
    linear = one[AttentionKind.LINEAR]
    # Jamba-v0.1: 28 Mamba layers, mamba_expand 2 x hidden 4096 = d_inner 8192, d_conv 4, d_state 16;
    # transformers keeps the conv window [8192, 4] in bf16 and the SSM state [8192, 16] in fp32
    assert linear.bytes_per_token == 0 and linear.fixed_bytes == 28 * (8192 * 4 * 2 + 8192 * 16 * 4)
    assert four[AttentionKind.LINEAR].fixed_bytes == linear.fixed_bytes  # per sequence
    longer = {s.kind: s for s in cache_shapes(_est(JAMBA, "bf16", "transformers", context=65536))}
    assert longer[AttentionKind.LINEAR].fixed_bytes == linear.fixed_bytes


# ---------------------------------------------------------------------------------------------
# explanations
# ---------------------------------------------------------------------------------------------


def _explain(model_id, *pairs):
    spec = spec_of(model_id)
    ests = [estimate(spec, parse_format(f), None, kv_settings(k)) for f, k in pairs]
    return " ".join(context_explanation(spec, ests))


def test_explanations_follow_the_attention_kinds():
    llama = _explain(LLAMA, ("q4_k_m", "auto"))
    assert "All 32 layers use full attention" in llama and "128.00 KiB per token" in llama
    assert "sliding" not in llama and "MLA" not in llama and "state-space" not in llama
    assert "KV cache types compared" not in llama  # one 16-bit type: nothing to compare
    gemma = _explain(GEMMA, ("q4_k_m", "auto"))
    assert "sliding window of 1,024 tokens" in gemma and "shallower slope" in gemma
    deepseek = _explain(DEEPSEEK, ("q4_k_m", "auto"))
    assert "multi-head latent attention" in deepseek and "576 elements" in deepseek
    assert "From the model's config" in deepseek  # the builder's note on the expanded cache
    jamba = _explain(JAMBA, ("q4_k_m", "auto"))
    assert "28 layers of 32 are linear-attention" in jamba and "only the other 4 layers" in jamba
    mamba = _explain(MAMBA, ("q4_k_m", "auto"))
    assert "stays flat" in mamba


def test_quantized_cache_is_explained_with_its_share():
    text = _explain(LLAMA, ("q4_k_m", "auto"), ("q4_k_m", "q8_0"), ("q4_k_m", "q4_0"))
    assert "KV cache types compared" in text
    assert "q8_0 (34 B per 32 elements" in text and "53% of a 16-bit cache" in text
    assert "q4_0 (18 B per 32 elements" in text and "28% of a 16-bit cache" in text
    assert "256-token steps" in text  # llama.cpp's padding


def test_mixed_k_and_v_types_are_named_apart():
    spec = spec_of(LLAMA)
    est = estimate(spec, parse_format("q4_k_m"), None, RunSettings(kv_dtype_k="q8_0", kv_dtype_v="q4_0"))
    text = " ".join(context_explanation(spec, [est]))
    assert "K q8_0" in text and "V q4_0" in text


def test_no_estimates_no_explanation():
    assert context_explanation(spec_of(LLAMA), []) == []


def test_vllm_explains_its_blocks():
    spec = spec_of(LLAMA)
    est = estimate(spec, parse_format("awq-int4"), "vllm", replace(kv_settings(), context=4096))
    assert any("16-token blocks" in line for line in context_explanation(spec, [est]))


def test_growth_outside_the_cache_is_named_with_both_amounts():
    budget = budget_from_gpu("h100-sxm")
    jamba = context_curve(spec_of(JAMBA), parse_format("bf16"), None, kv_settings(), budget)
    (line,) = growth_notes([jamba])
    kv_growth = jamba.kv_points[-1][1] - jamba.kv_points[0][1]
    other = jamba.points[-1][1] - jamba.points[0][1] - kv_growth
    assert other > kv_growth and other >= NOTABLE_GROWTH
    assert "from 512 to 262,144 tokens" in line and "one forward pass" in line
    # llama.cpp on a full-attention model: the cache is the whole slope, nothing to say
    llama = context_curve(spec_of(LLAMA), parse_format("q4_k_m"), None, kv_settings(), budget)
    assert growth_notes([llama]) == []
