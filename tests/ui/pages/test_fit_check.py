"""The Fit check page (AppTest): verdict, limits, speed, split, offload, downloads, bad input, never a traceback."""

import csv
import io
import json
from pathlib import Path

import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from planner.catalog import load_catalog
from planner.engines import estimate
from planner.fit import budget_from_gpu, budget_from_size
from planner.fit.answer import estimate_json, fit_answer
from planner.formats import parse_format
from planner.hardware.live import LiveReport
from planner.hardware.units import format_gib
from planner.memory.estimate import RunSettings

APP = str(Path(__file__).resolve().parents[3] / "app.py")
PAGE = "ui/pages/fit_check.py"
LLAMA = "meta-llama/Llama-3.1-8B"
MIXTRAL = "mistralai/Mixtral-8x7B-Instruct-v0.1"
RTX_4090 = "NVIDIA GeForce RTX 4090"  # the GPU box binds the catalog name to the URL


def _run(query=None, page=PAGE):
    at = AppTest.from_file(APP, default_timeout=60)
    if page:
        at.switch_page(page)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()


def _metric(at, label):
    return next(m for m in at.metric if m.label.startswith(label)).value


def _answer(model_id, fmt_id, budget, engine=None, **settings):
    spec = load_catalog()[model_id].spec()
    fmt = parse_format(fmt_id)
    run = RunSettings(**settings)
    est = estimate(spec, fmt, engine, run)
    return est, fit_answer(spec, fmt, run, est, budget)


@pytest.fixture
def downloads(monkeypatch):
    """File name -> bytes of every download button the page draws."""
    files = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def record(self, path_or_data, mimetype, kind, filename=None):
        files[filename] = path_or_data if isinstance(path_or_data, bytes) else path_or_data.encode()
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)
    return files


def test_it_is_the_default_page_and_renders_the_planners_answer():
    at = _run(page=None)
    assert not at.exception
    assert at.title[0].value == "Fit check"
    _, answer = _answer(LLAMA, "q4_k_m", budget_from_gpu("rtx-4090"), context=8192)
    fit = answer.fit
    assert fit.fits
    (verdict,) = at.success
    assert verdict.value.startswith(f"**Fits**, with {format_gib(fit.headroom_bytes)} headroom")
    assert _metric(at, "GPU memory needed") == format_gib(fit.required_bytes)
    assert _metric(at, "Usable by the engine") == format_gib(fit.usable_bytes)
    assert _metric(at, "Headroom") == format_gib(fit.headroom_bytes)
    assert _metric(at, "Max context") == f"{answer.max_context.value:,}"
    assert _metric(at, "Max batch") == f"{answer.max_batch.value:,}"
    assert _metric(at, "Decode (roofline estimate)") == f"{answer.speed.decode_tokens_per_s:,.1f} tok/s"
    assert _metric(at, "Prefill of 8,192 tokens") == f"{answer.speed.prefill_seconds:,.2f} s"
    assert any("roofline estimates, not measurements" in c.value for c in at.caption)
    assert at.get("plotly_chart"), "the breakdown chart is drawn"
    assert len(at.dataframe) == 1  # the "why" table


def test_a_small_gpu_turns_the_verdict_and_says_by_how_much():
    at = _run({"model": LLAMA, "format": "bf16", "gpu_source": "Custom size", "vram": "8GiB"})
    assert not at.exception
    _, answer = _answer(LLAMA, "bf16", budget_from_size("8GiB"), context=8192)
    assert not answer.fit.fits
    assert not at.success
    assert at.error[0].value.startswith(
        f"**Does not fit:** short by {format_gib(-answer.fit.headroom_bytes)}"
    )
    assert _metric(at, "Short by") == format_gib(-answer.fit.headroom_bytes)
    assert _metric(at, "Decode") == "n/a"  # a custom size has no bandwidth
    info = " ".join(i.value for i in at.info)
    assert "The most bits that fit" in info


def test_url_parameters_seed_the_inputs():
    query = {
        "model": "Qwen/Qwen3-8B",
        "format": "q8_0",
        "context": "32k",
        "batch": "4",
        "gpu": "NVIDIA GeForce RTX 3090",
    }
    at = _run(query)
    assert not at.exception
    assert at.sidebar.selectbox(key="model").value == "Qwen/Qwen3-8B"
    assert at.sidebar.selectbox(key="format").value == "q8_0"
    assert at.sidebar.select_slider(key="context").value == 32768
    assert at.sidebar.number_input(key="batch").value == 4
    summary = at.markdown[0].value
    assert "Qwen/Qwen3-8B" in summary and "32,768 tokens x 4 sequences" in summary and "RTX 3090" in summary
    _, answer = _answer("Qwen/Qwen3-8B", "q8_0", budget_from_gpu("rtx-3090"), context=32768, batch=4)
    assert _metric(at, "GPU memory needed") == format_gib(answer.fit.required_bytes)


def test_llamacpp_offload_is_offered_when_it_does_not_fit():
    at = _run({"model": MIXTRAL, "gpu": RTX_4090})
    assert not at.exception
    _, answer = _answer(MIXTRAL, "q4_k_m", budget_from_gpu("rtx-4090"), context=8192)
    off = answer.offload
    assert "Partial offload (llama.cpp)" in [s.value for s in at.subheader]
    info = " ".join(i.value for i in at.info)
    assert f"`-ngl {off.gpu_layers}`" in info and f"host RAM {format_gib(off.host_bytes)}" in info
    assert f"{answer.offload_speed.decode_tokens_per_s:,.1f} tok/s" in info
    assert f"--n-cpu-moe {off.experts.n_cpu_moe}" in info
    assert "partial offload to the CPU" in at.error[0].value


def test_several_gpus_show_the_split():
    at = _run({"model": "meta-llama/Llama-3.1-70B-Instruct", "gpus": "2"})
    assert not at.exception
    assert any(s.value.startswith("Split over 2 GPUs: layer split") for s in at.subheader)
    split = at.dataframe[0].value
    assert len(split) == 2 and split["fits"].all()
    at = _run({"model": LLAMA, "format": "bf16", "engine": "vllm", "gpus": "2"})
    assert not at.exception
    assert any(s.value.startswith("Split over 2 GPUs: tensor parallel") for s in at.subheader)


def test_the_why_expander_explains_every_gpu_figure():
    at = _run()
    est, _ = _answer(LLAMA, "q4_k_m", budget_from_gpu("rtx-4090"), context=8192)
    why = at.dataframe[0].value
    assert list(why["component"][:4]) == ["GPU weights", "GPU KV cache", "GPU activations", "GPU overhead"]
    assert why["GiB"][0] == est.weights.bytes / (1 << 30)
    text = " ".join(m.value for m in at.markdown)
    assert "Fit rule" in text and "Speed estimate assumptions" in text
    assert "--fit keeps 1024 MiB free" in text


def test_downloads_are_the_planners_plan_in_csv_and_json(downloads):
    at = _run()
    assert not at.exception
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Download plan (CSV)", "Download plan (JSON)"]
    stem = "meta-llama--Llama-3.1-8B-q4_k_m-llama.cpp-plan"
    est, answer = _answer(LLAMA, "q4_k_m", budget_from_gpu("rtx-4090"), context=8192)
    data = json.loads(downloads[f"{stem}.json"])
    assert data == json.loads(json.dumps(estimate_json(est, answer)))
    assert data["memory"]["total"] == est.total and data["fits"] is True
    assert data["max_context"] == answer.max_context.value and data["decode_tokens_per_s"] > 0
    rows = {r["quantity"]: r for r in csv.DictReader(io.StringIO(downloads[f"{stem}.csv"].decode()))}
    assert int(rows["gpu weights"]["value"]) == est.weights.bytes
    assert int(rows["gpu total"]["value"]) == est.total
    assert int(rows["headroom"]["value"]) == answer.fit.headroom_bytes
    assert rows["gpu weights"]["rule"] == est.weights.rule


def test_download_without_a_gpu_keeps_the_cli_keys_null(downloads):
    at = _run({"gpu_source": "Custom size", "vram": "lots"})
    assert not at.exception
    assert any("No GPU to plan against" in w.value for w in at.warning)
    (name,) = [n for n in downloads if n.endswith(".json")]
    data = json.loads(downloads[name])
    assert data["fits"] is None and data["memory"]["total"] > 0


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"gpu_source": "Custom size", "vram": "24g"}, "'24g' is ambiguous"),
        ({"gpu_source": "Custom size", "vram": "24"}, "reads as 24 bytes; give the unit"),
        ({"gpu_source": "Custom size", "vram": "0GB"}, "some memory"),
        ({"format": "q4_k_m", "engine": "vllm"}, "vllm does not load 'q4_k_m'"),
        ({"format": "bnb-nf4", "engine": "llama.cpp"}, "llama.cpp does not load"),
    ],
)
def test_bad_inputs_give_a_message_and_no_traceback(query, message):
    at = _run(query)
    assert not at.exception
    shown = " ".join(e.value for e in (*at.error, *at.warning))
    assert message in shown


def test_detected_source_without_nvidia_gpu_shows_the_reason(monkeypatch):
    import planner.fit.budget as budget

    monkeypatch.setattr(
        budget,
        "read_live_gpus",
        lambda nvml=None: LiveReport(False, "no NVIDIA GPU detected: test", None, None, ()),
    )
    at = _run({"gpu_source": "Detected (NVML)"})
    assert not at.exception
    assert any("no NVIDIA GPU detected: test" in w.value for w in at.warning)
    assert _metric(at, "GPU memory needed").endswith(" GiB")


def test_a_model_too_big_for_any_setting_says_so():
    at = _run({"model": "deepseek-ai/DeepSeek-V3", "gpu": RTX_4090})
    assert not at.exception
    assert at.error[0].value.startswith("**Does not fit:**")
    assert _metric(at, "Max context") == "none fits"
    assert any("No representative format fits entirely on the GPU" in w.value for w in at.warning)


def test_broken_upload_shows_the_sidebar_error_and_a_hint():
    at = _run({"source": "Upload config.json"})
    at.sidebar.get("file_uploader")[0].set_value(("config.json", b"{not json", "application/json"))
    at.run()
    assert not at.exception
    assert at.sidebar.error, "the sidebar says what is wrong with the file"
    assert any("No model to plan yet" in i.value for i in at.info)


def test_an_uploaded_config_is_planned():
    config = {
        "model_type": "llama",
        "hidden_size": 2048,
        "intermediate_size": 5632,
        "num_hidden_layers": 22,
        "num_attention_heads": 32,
        "num_key_value_heads": 4,
        "vocab_size": 32000,
        "max_position_embeddings": 2048,
    }
    at = _run({"source": "Upload config.json"})
    at.sidebar.get("file_uploader")[0].set_value(
        ("config.json", json.dumps(config).encode(), "application/json")
    )
    at.run()
    assert not at.exception
    assert at.success and at.success[0].value.startswith("**Fits**")
    assert _metric(at, "Max context") == "2,048"


def test_unknown_hub_id_offline_gives_a_message(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    at = _run({"source": "Hub id", "hub": "someone/not-cached-anywhere"})
    assert not at.exception
    assert at.sidebar.error
    assert any("No model to plan yet" in i.value for i in at.info)


def test_the_app_and_the_cli_give_the_same_plan(downloads, capsys):
    """One request type behind both: the page's JSON download is the CLI's ``estimate --json`` byte for byte."""
    from planner.cli import main

    at = _run({"model": MIXTRAL, "format": "q3_k_m", "gpu": "rtx-3090", "gpus": "2", "context": "32k"})
    assert not at.exception
    (name,) = [n for n in downloads if n.endswith(".json")]
    app = json.loads(downloads[name])
    args = ["estimate", "--model", MIXTRAL, "--format", "q3_k_m", "--gpu", "rtx-3090", "--gpus", "2"]
    assert main([*args, "--context", "32768", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert app == cli
    assert cli["headroom"] == cli["usable"] - cli["required"] and cli["gpu"]["count"] == 2


@pytest.mark.parametrize(
    ("engine", "rule_word", "command"),
    [
        ("vllm", "gpu_memory_utilization", "vllm serve"),
        ("sglang", "mem_fraction_static", "python -m sglang.launch_server"),
        ("trtllm", "free_gpu_memory_fraction", "trtllm-serve"),
    ],
)
def test_server_engines_show_their_budget_startup_and_launch(engine, rule_word, command):
    at = _run({"model": LLAMA, "format": "bf16", "engine": engine, "gpu": "NVIDIA H100 SXM5 80GB"})
    assert not at.exception
    assert engine in at.sidebar.selectbox(key="engine").options
    headers = [s.value for s in at.subheader]
    assert any("at start-up (estimate)" in h for h in headers) and "Launch command" in headers
    assert any(command in c.value for c in at.code)
    usable = next(m for m in at.metric if m.label.startswith("Usable by the engine"))
    assert rule_word in usable.help
    assert int(_metric(at, "KV cache tokens the pool holds").replace(",", "")) > 100_000
