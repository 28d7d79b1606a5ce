"""Properties every engine's estimate keeps: monotone in context and batch, parts sum, nothing negative."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.engines import engine_ids, estimate
from planner.engines.constants import ENGINES_FILE, constant, constant_names
from planner.memory.estimate import RunSettings

MODELS = [
    "meta-llama/Llama-3.1-8B-Instruct",
    "google/gemma-3-1b-it",
    "openai/gpt-oss-20b",
    "deepseek-ai/DeepSeek-V2-Lite",
    "ibm-granite/granite-4.0-h-micro",
    "Qwen/Qwen3-30B-A3B",
]
FIGURES = (
    "weights",
    "kv_cache",
    "activations",
    "overhead",
    "host_weights",
    "host_kv_cache",
    "host_activations",
)
SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _est(catalog, fmt, engine, model, **kw):
    return estimate(catalog[model].spec(), fmt, engine, RunSettings(**kw))


def _fmt(bf16, gguf_f16, engine):
    return gguf_f16 if engine == "llama.cpp" else bf16


@SETTINGS
@given(
    engine=st.sampled_from(["transformers", "vllm", "llama.cpp"]),
    model=st.sampled_from(MODELS),
    ctx=st.integers(1, 200_000),
    more=st.integers(1, 50_000),
    batch=st.integers(1, 8),
)
def test_memory_never_decreases_with_context(catalog, bf16, gguf_f16, engine, model, ctx, more, batch):
    fmt = _fmt(bf16, gguf_f16, engine)
    a = _est(catalog, fmt, engine, model, context=ctx, batch=batch)
    b = _est(catalog, fmt, engine, model, context=ctx + more, batch=batch)
    for name in FIGURES:
        assert getattr(b, name).bytes >= getattr(a, name).bytes, name
    assert b.total >= a.total and b.host_total >= a.host_total


@SETTINGS
@given(
    engine=st.sampled_from(["transformers", "vllm", "llama.cpp"]),
    model=st.sampled_from(MODELS),
    ctx=st.integers(1, 100_000),
    batch=st.integers(1, 8),
    more=st.integers(1, 8),
)
def test_memory_never_decreases_with_batch(catalog, bf16, gguf_f16, engine, model, ctx, batch, more):
    fmt = _fmt(bf16, gguf_f16, engine)
    a = _est(catalog, fmt, engine, model, context=ctx, batch=batch)
    b = _est(catalog, fmt, engine, model, context=ctx, batch=batch + more)
    assert b.kv_cache.bytes >= a.kv_cache.bytes and b.total >= a.total


@SETTINGS
@given(
    engine=st.sampled_from(["transformers", "vllm", "llama.cpp"]),
    model=st.sampled_from(MODELS),
    ctx=st.integers(1, 300_000),
    batch=st.integers(1, 16),
    flash=st.sampled_from([None, True, False]),
    ngl=st.one_of(st.none(), st.integers(0, 80)),
)
def test_components_sum_and_nothing_is_negative(
    catalog, bf16, gguf_f16, engine, model, ctx, batch, flash, ngl
):
    fmt = _fmt(bf16, gguf_f16, engine)
    extra = {"gpu_layers": ngl, "flash_attn": flash} if engine == "llama.cpp" else {}
    if engine == "transformers":
        extra = {"flash_attn": flash}
    e = _est(catalog, fmt, engine, model, context=ctx, batch=batch, **extra)
    d = e.to_dict()
    mem, host = d["memory"], d["host_memory"]
    assert mem["total"] == mem["weights"] + mem["kv_cache"] + mem["activations"] + mem["overhead"]
    assert host["total"] == host["weights"] + host["kv_cache"] + host["activations"]
    assert mem["total_low"] <= mem["total"] <= mem["total_high"]
    for name in FIGURES:
        fig = getattr(e, name)
        low, high = fig.band
        assert 0 <= low <= fig.bytes <= high, name
        assert all(v >= 0 for v in fig.parts.values()), name
        if fig.parts:
            assert sum(fig.parts.values()) == fig.bytes, name
        assert fig.rule
        if not fig.exact:
            assert fig.source, name
    if engine == "llama.cpp":  # every weight byte is somewhere (tied models: + the duplicated output)
        spec = catalog[model].spec()
        dup = (
            0
            if not spec.tied_embeddings or (ngl is not None and ngl == 0)
            else e.host_weights.parts.get("input_layer", 0)
        )
        assert e.weights.bytes + e.host_weights.bytes == e.weights_report.total_bytes + dup
    elif engine == "vllm":  # the checkpoint, plus what vLLM adds while loading (rotary cache, MXFP4 padding)
        assert e.weights.parts["checkpoint_share"] == e.weights_report.total_bytes
        extra = e.weights.bytes - e.weights_report.total_bytes
        assert extra == sum(v for k, v in e.weights.parts.items() if k != "checkpoint_share") >= 0
    else:
        assert e.weights.bytes == e.weights_report.total_bytes


def test_every_engine_is_registered():
    assert set(engine_ids()) >= {"transformers", "vllm", "llama.cpp"}


def test_every_empirical_constant_has_a_band_a_source_and_a_calibration_note():
    data = json.loads(ENGINES_FILE.read_text())
    assert set(constant_names()) == set(data["constants"])
    for name in constant_names():
        c = constant(name)
        assert c.low <= c.value <= c.high
        assert c.source.strip() and "calibrate" in c.note
