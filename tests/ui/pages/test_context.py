"""The Context page (AppTest): default curves, inputs that change them, URL seeding, bad input, never a traceback."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from planner.catalog import load_catalog
from planner.fit import budget_from_gpu, budget_from_size, max_context
from planner.formats import parse_format
from planner.hardware.live import LiveReport
from planner.memory.estimate import RunSettings

APP = str(Path(__file__).resolve().parents[3] / "app.py")
PAGE = "ui/pages/context.py"
LLAMA = "meta-llama/Llama-3.1-8B"


def _run(query=None):
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page(PAGE)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()


def _table(at):
    return at.dataframe[0].value


def _tokens(cell: str) -> int | None:
    """A max-context cell as shown ("24,576", or a dash when nothing fits) read back as a number."""
    return None if cell == "—" else int(cell.replace(",", ""))


def _text(at):
    return " ".join(m.value for m in at.markdown)


def _max_context(model_id, fmt, kv, budget, context=8192):
    spec = load_catalog()[model_id].spec()
    settings = RunSettings(context=context, kv_dtype_k=kv, kv_dtype_v=kv)
    return max_context(spec, parse_format(fmt), None, settings, budget)


def test_defaults_render_the_sidebar_format_next_to_16_bit_with_three_cache_types():
    at = _run()
    assert not at.exception and not at.error
    assert at.title[0].value == "Context"
    formats, kv_types = at.multiselect
    assert formats.value == ["q4_k_m", "gguf-f16"] and kv_types.value == ["auto", "q8_0", "q4_0"]
    table = _table(at)
    assert len(table) == 6 and set(table["engine"]) == {"llama.cpp"}
    assert len(at.get("plotly_chart")) == 1
    # the f16-weights, f16-cache curve is limited by memory on a 24 GiB card, at the solver's boundary
    row = table[(table["format"] == "gguf-f16") & (table["KV type"] == "fp16")].iloc[0]
    expected = _max_context(LLAMA, "gguf-f16", "auto", budget_from_gpu("rtx-4090"))
    assert _tokens(row["max context (tokens)"]) == expected.value and row["limited by"] == "GPU memory"
    assert "All 32 layers use full attention" in _text(at)
    assert "KV cache types compared" in _text(at)


def test_changing_the_formats_and_cache_types_changes_the_curves():
    at = _run()
    at.multiselect(key="ctx_formats").set_value(["bf16"])
    at.multiselect(key="ctx_kv").set_value(["auto"])
    at.run()
    assert not at.exception
    table = _table(at)
    assert list(table["format"]) == ["bf16"] and list(table["engine"]) == ["transformers"]
    expected = _max_context(LLAMA, "bf16", "auto", budget_from_gpu("rtx-4090"))
    assert _tokens(table["max context (tokens)"].iloc[0]) == expected.value


def test_a_smaller_gpu_moves_the_max_context_mark():
    big = _tokens(_table(_run({"ctx_formats": "q8_0", "ctx_kv": "auto"}))["max context (tokens)"].iloc[0])
    at = _run({"ctx_formats": "q8_0", "ctx_kv": "auto", "gpu_source": "Custom size", "vram": "12GiB"})
    assert not at.exception
    small = _tokens(_table(at)["max context (tokens)"].iloc[0])
    assert small == _max_context(LLAMA, "q8_0", "auto", budget_from_size("12GiB")).value
    assert small < big


def test_url_parameters_seed_the_inputs():
    at = _run(
        {
            "model": "google/gemma-3-12b-it",
            "ctx_formats": ["q8_0", "q4_k_m"],
            "ctx_kv": ["q4_0"],
            "context": "32k",
        }
    )
    assert not at.exception
    assert [m.value for m in at.multiselect] == [["q8_0", "q4_k_m"], ["q4_0"]]
    table = _table(at)
    assert list(table["format"]) == ["q8_0", "q4_k_m"] and set(table["KV type"]) == {"q4_0"}
    assert "total at 32,768 (GiB)" in table.columns
    assert "sliding window of 1,024 tokens" in _text(at)
    assert at.toggle(key="ctx_log").value
    assert not _run({"ctx_log": "false"}).toggle(key="ctx_log").value


@pytest.mark.parametrize(
    ("model", "phrase"),
    [
        ("deepseek-ai/DeepSeek-V2-Lite", "multi-head latent attention"),
        ("ai21labs/Jamba-v0.1", "linear-attention / state-space layers"),
        ("ai21labs/Jamba-v0.1", "not the cache"),  # transformers' prompt activations make the slope
        ("mistralai/Mamba-Codestral-7B-v0.1", "stays flat"),
    ],
)
def test_the_explanation_follows_the_models_attention_kinds(model, phrase):
    at = _run({"model": model, "ctx_formats": ["q4_k_m", "bf16"], "ctx_kv": "auto"})
    assert not at.exception and not at.error
    assert phrase in _text(at)


def test_refused_combinations_are_listed_and_the_rest_drawn():
    at = _run({"ctx_formats": ["bf16", "q4_k_m"], "ctx_kv": ["auto", "q8_0"]})
    assert not at.exception
    table = _table(at)
    assert len(table) == 3  # bf16 on transformers refuses a q8_0 cache
    assert any("refuses" in e.label for e in at.expander)
    assert "transformers cannot keep the K cache as 'q8_0'" in _text(at)


def test_only_refused_combinations_give_an_error_not_a_traceback():
    at = _run({"ctx_formats": "bf16", "ctx_kv": "q4_0"})
    assert not at.exception
    assert at.error and "can run" in at.error[0].value
    assert not at.dataframe


def test_empty_selection_asks_for_a_choice():
    at = _run({"ctx_kv": ""})
    assert not at.exception
    assert any("at least one" in i.value for i in at.info)


def test_unknown_url_values_are_ignored():
    at = _run({"ctx_formats": "not-a-format", "ctx_kv": "q4_0"})
    assert not at.exception
    assert at.multiselect(key="ctx_formats").value == ["q4_k_m", "gguf-f16"]


@pytest.mark.parametrize(
    "query",
    [
        {"gpu_source": "Custom size", "vram": "lots"},
        {"gpu_source": "Custom size", "vram": "0GiB"},
        {"gpu_source": "Detected on this machine"},
    ],
)
def test_bad_gpu_inputs_give_a_message(query, monkeypatch):
    monkeypatch.setattr("planner.fit.budget.read_live_gpus", _no_gpu)
    at = _run(query)
    assert not at.exception
    assert at.error


def test_broken_upload_gives_a_message():
    at = _run({"source": "Upload config.json"})
    assert not at.exception
    assert any("Pick a catalog model" in i.value for i in at.info)


def test_the_page_follows_the_sidebar_batch():
    one = _table(_run({"ctx_formats": "q4_k_m", "ctx_kv": "auto"}))
    four = _table(_run({"ctx_formats": "q4_k_m", "ctx_kv": "auto", "batch": "4"}))
    kv = "KV at 8,192 (GiB)"
    assert four[kv].iloc[0] == pytest.approx(4 * one[kv].iloc[0])


def _no_gpu(nvml=None):
    return LiveReport(False, "no NVIDIA GPU (test)", None, None, ())


def test_a_curve_that_never_fits_shows_a_dash_not_none():
    at = _run({"gpu": "rtx-3060"})  # Llama 3.1 8B in gguf-f16 (about 14 GiB of weights) on 12 GiB
    assert not at.exception
    table = _table(at)
    never = table[table["format"] == "gguf-f16"]
    assert len(never) == 3 and set(never["max context (tokens)"]) == {"—"}
    assert all(text.startswith("nothing fits") for text in never["limited by"])
    assert "None" not in set(table["max context (tokens)"])
