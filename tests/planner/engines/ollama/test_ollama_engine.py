"""Ollama v0.32.15 as an engine: its context, slot, batch and cache rules, against its source and published logs.

Outside references (Ollama server logs from public issues; the KV figure Ollama's estimator printed
is exact llama.cpp arithmetic, which Ollama's llama-server allocates):

* ollama/ollama#8098: llama3.2 (3B, 28 layers) ``--ctx-size 8192 ... --parallel 4`` (num_ctx 2048 x 4):
  ``memory.required.kv="896.0 MiB"``.
* ollama/ollama#9181: an 80-layer, 8-KV-head model at ``--ctx-size 64000 --parallel 1``:
  ``memory.required.kv="19.5 GiB"``.
* ollama/ollama PR #12000 (comment, 2025-08-22): gemma3:12b at ``--ctx-size 8192 --parallel 1``:
  ``memory.required.kv="992.0 MiB"``, ``projector.weights="795.9 MiB"``, ``projector.graph="1.0 GiB"``.
"""

from dataclasses import replace

import pytest

from planner.engines import estimate, get_engine
from planner.engines.ollama import activations, kv
from planner.fit import budget_from_gpu, budget_from_size
from planner.hardware.units import GIB, MIB
from planner.memory.estimate import RunSettings, SettingsError


@pytest.fixture(scope="module")
def q4(catalog):
    from planner.formats import parse_format

    return parse_format("q4_k_m")


def _est(catalog, model, fmt, **kw):
    return estimate(catalog[model].spec(), fmt, "ollama", RunSettings(**kw))


def test_kv_is_num_ctx_times_parallel_as_the_ollama_log_printed(catalog, q4):
    est = _est(catalog, "meta-llama/Llama-3.2-3B-Instruct", q4, context=2048, batch=4)
    # 4 slots x 2048 cells x 28 layers x 8 KV heads x 128 x (K + V) x 2 B
    assert est.kv_cache.bytes == 4 * 2048 * 28 * 8 * 128 * 2 * 2 == 896 * MIB  # ollama#8098: 896.0 MiB


def test_a_70b_class_cache_at_64000_tokens_matches_the_log(catalog, q4):
    est = _est(catalog, "meta-llama/Llama-3.3-70B-Instruct", q4, context=64000, batch=1)
    assert est.kv_cache.bytes == 64000 * 80 * 8 * 128 * 2 * 2
    assert round(est.kv_cache.bytes / GIB, 1) == 19.5  # ollama#9181: memory.required.kv="19.5 GiB"


def test_gemma3_sliding_cache_and_projector_match_the_log(catalog, q4):
    est = _est(catalog, "google/gemma-3-12b-it", q4, context=8192, batch=1, flash_attn=False)
    # 8 global layers x 8192 cells + 40 sliding layers x pad(1024 + 512, 256) = 1536 cells, 8 KV heads x 256 x 2 x 2 B
    row = 8 * 256 * 2 * 2
    assert est.kv_cache.bytes == 8 * 8192 * row + 40 * 1536 * row == 992 * MIB  # PR #12000: 992.0 MiB
    mmproj = est.extra("mmproj")
    weights = mmproj.gpu.parts["mmproj_weights"]
    # Ollama's own gemma3 blob stores the position embedding in F16 (795.9 MiB); the GGUF mmproj keeps it F32
    assert weights == pytest.approx(795.9 * MIB, rel=0.03)
    # without flash attention the clip warm-up builds the f32 KQ of 4096 patches x 16 heads: 1.0 GiB
    assert round(4 * 4096 * 4096 * 16 / GIB, 1) == 1.0
    assert mmproj.gpu.band[0] - weights <= GIB <= mmproj.gpu.band[1] - weights


def test_num_ctx_is_capped_at_the_training_context(catalog, q4):
    spec = catalog["meta-llama/Llama-3.2-3B-Instruct"].spec()
    long = estimate(spec, q4, "ollama", RunSettings(context=500_000))
    train = estimate(spec, q4, "ollama", RunSettings(context=spec.max_position_embeddings))
    assert long.kv_cache.bytes == train.kv_cache.bytes
    assert any("capped at the model's training context" in n for n in long.notes)


def test_vision_models_get_at_least_2048_tokens(catalog, q4):
    short = _est(catalog, "google/gemma-3-4b-it", q4, context=512)
    at_2048 = _est(catalog, "google/gemma-3-4b-it", q4, context=2048)
    assert short.kv_cache.bytes == at_2048.kv_cache.bytes
    text_only = _est(catalog, "meta-llama/Llama-3.2-3B-Instruct", q4, context=512)
    assert text_only.kv_cache.bytes == 512 * 28 * 8 * 128 * 2 * 2


def test_some_architectures_get_one_slot(catalog, q4):
    spec = catalog["meta-llama/Llama-3.2-3B-Instruct"].spec()
    assert kv.parallel_slots(spec, 4)[0] == 4
    next_like = replace(
        spec, architecture="qwen3_next"
    )  # server/sched.go: "qwen3next" is served one at a time
    slots, notes = kv.parallel_slots(next_like, 4)
    assert slots == 1 and "qwen3next" in notes[0]


@pytest.mark.parametrize(
    ("gib", "gpus", "overhead", "expected"),
    [
        (8, 1, 0, 4096),
        (16, 1, 0, 4096),
        (24, 1, 0, 32768),  # a 24 GiB card: >= 23 GiB
        (24, 1, 2, 4096),  # OLLAMA_GPU_OVERHEAD 2 GiB takes it under 23 GiB
        (24, 2, 0, 262144),  # 48 GiB over two cards: >= 47 GiB
        (80, 1, 0, 262144),
    ],
)
def test_default_num_ctx_tiers_of_server_routes_go(gib, gpus, overhead, expected):
    assert kv.default_context(gib * GIB, overhead * GIB, gpus) == expected


@pytest.mark.parametrize(
    ("ctx", "flash", "batch"),
    [(4096, None, 512), (4097, None, 1024), (32768, None, 1024), (32769, None, 2048), (65536, False, 512)],
)
def test_automatic_batch_by_context(ctx, flash, batch):
    assert activations.auto_batch(ctx, flash) == batch


def test_automatic_batch_steps_down_without_headroom():
    # generationBatchFits: 2048 needs the prediction under 60% of available and 2 GiB left under 80%
    assert activations.batch_for_headroom(2048, 5 * GIB, 24 * GIB) == 2048
    assert activations.batch_for_headroom(2048, 16 * GIB, 24 * GIB) == 1024  # 66%: over 60%, under 75%
    assert activations.batch_for_headroom(2048, 19 * GIB, 24 * GIB) == 512  # over 75%


def test_the_batch_sizes_the_compute_buffer(catalog, q4):
    spec = catalog["meta-llama/Llama-3.1-8B-Instruct"].spec()
    ollama = estimate(spec, q4, "ollama", RunSettings(context=8192))
    llama_1024 = estimate(spec, q4, "llama.cpp", RunSettings(context=8192, ubatch=1024))
    llama_512 = estimate(spec, q4, "llama.cpp", RunSettings(context=8192))
    assert ollama.activations.bytes == llama_1024.activations.bytes > llama_512.activations.bytes
    assert (
        ollama.weights.bytes == llama_512.weights.bytes and ollama.kv_cache.bytes == llama_512.kv_cache.bytes
    )


def test_kv_cache_type_rules(catalog, q4):
    q8 = _est(
        catalog, "meta-llama/Llama-3.2-3B-Instruct", q4, context=4096, kv_dtype_k="q8_0", kv_dtype_v="q8_0"
    )
    # q8_0: 34 bytes per 32 elements
    assert q8.kv_cache.bytes == 4096 * 28 * (1024 // 32 * 34) * 2
    with pytest.raises(SettingsError, match="flash attention"):
        _est(
            catalog,
            "meta-llama/Llama-3.2-3B-Instruct",
            q4,
            kv_dtype_k="q8_0",
            kv_dtype_v="q8_0",
            flash_attn=False,
        )
    with pytest.raises(SettingsError, match="one OLLAMA_KV_CACHE_TYPE"):
        _est(catalog, "meta-llama/Llama-3.2-3B-Instruct", q4, kv_dtype_k="q8_0", kv_dtype_v="fp16")
    with pytest.raises(SettingsError, match="f16, q8_0, q4_0"):
        _est(catalog, "meta-llama/Llama-3.2-3B-Instruct", q4, kv_dtype_k="fp8", kv_dtype_v="fp8")


def test_it_loads_gguf_and_gpt_oss_mxfp4_only():
    from planner.formats import parse_format

    ollama = get_engine("ollama")
    assert ollama.loads(parse_format("q4_k_m")) and ollama.loads(parse_format("mxfp4"))
    assert not ollama.loads(parse_format("bf16")) and not ollama.loads(parse_format("awq-int4"))


def test_no_switch_drops_the_projector(catalog, q4):
    with pytest.raises(SettingsError, match="no switch"):
        _est(catalog, "google/gemma-3-4b-it", q4, mmproj=False)


def test_partial_num_gpu_keeps_the_projector_on_the_cpu(catalog, q4):
    est = _est(catalog, "google/gemma-3-4b-it", q4, gpu_layers=10)
    mmproj = est.extra("mmproj")
    assert mmproj.gpu.bytes == 0 and mmproj.host.bytes > 0


def test_fit_margin_is_llama_servers_fit_target():
    budget = budget_from_size(24 * GIB)
    allowance = budget.allowance("ollama")
    assert allowance.margin_bytes == (1024 * MIB,)
    assert "--fit" in allowance.rule


def test_partial_offload_is_planned_for_ollama_too(catalog, q4):
    from planner.fit.answer import fit_answer

    spec = catalog["meta-llama/Llama-3.1-70B-Instruct"].spec()
    run = RunSettings(context=8192)
    est = estimate(spec, q4, "ollama", run)
    answer = fit_answer(spec, q4, run, est, budget_from_gpu("rtx-4090"))
    assert not answer.fit.fits and answer.offload is not None and answer.offload.gpu_layers
    assert answer.offload.fit.estimate.engine == "ollama"
