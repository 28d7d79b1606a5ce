"""The "What can I run" page (AppTest): defaults, URL parameters, filters, evidence and bad input, never a traceback.

Expected picks are the hand-derived ones of ``tests/planner/recommend/test_ranking.py`` (the default
RTX 4090 has 23.99 GiB, so its pick is the 24 GiB one: gemma-3-27b-it in AWQ int4, 78.6 x 0.9971).
"""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[3] / "app.py")
PAGE = "ui/pages/what_can_i_run.py"


def _run(query=None):
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.switch_page(PAGE)
    return at.run()


def _table(at):
    """The everything-that-fits table (the one with a 'best' column)."""
    return next(df.value for df in at.dataframe if "why unranked" in getattr(df.value, "columns", []))


def test_defaults_render_the_best_pick_and_the_trade_off():
    at = _run()
    assert not at.exception
    assert at.title[0].value == "What can I run"
    assert "Best pick: google/gemma-3-27b-it in `awq-int4`" in at.success[0].value
    assert "GiB" in at.success[0].value and " GB" not in at.success[0].value
    assert any("points higher" in i.value for i in at.info)
    table = _table(at)
    data = table.data if hasattr(table, "data") else table  # a Styler holds the frame in .data
    assert int(data["best"].sum()) == 1
    best = data[data["best"]].iloc[0]
    assert (best["model"], best["format"], best["rank"]) == ("google/gemma-3-27b-it", "awq-int4", 1)
    assert {"needs GiB", "usable GiB", "headroom GiB", "expected", "retention %"} <= set(data.columns)
    widths = next(
        df.value
        for df in at.dataframe
        if "bit width" in df.value.columns and "fitting pairs" in df.value.columns
    )
    assert list(widths["bit width"]) == [16, 8, 6, 5, 4, 3, 2]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Needs"].endswith(" GiB")


def test_url_budget_changes_the_pick():
    at = _run({"gpu_source": "Custom size", "vram": "8GiB"})
    assert not at.exception
    assert "Best pick: meta-llama/Llama-3.1-8B-Instruct in `q4_k_m`" in at.success[0].value


def test_url_benchmark_engine_and_family():
    at = _run({"rec_benchmark": "MMLU-Pro", "engine": "vllm", "rec_family": ["gemma3", "qwen2"]})
    assert not at.exception
    assert at.selectbox(key="rec_benchmark").value == "mmlu-pro"
    data = _table(at)
    data = data.data if hasattr(data, "data") else data
    assert set(data["engine"]) == {"vllm"}
    assert all(m.startswith(("google/gemma-3", "Qwen/Qwen2")) for m in data["model"])
    assert "MMLU-Pro" in at.success[0].value


def test_evidence_links_to_sources():
    at = _run()
    assert not at.exception
    assert at.selectbox(key="rec_evidence").value == 0
    text = " ".join(m.value for m in at.markdown)
    assert "[source](https://huggingface.co/google/gemma-3-27b-it)" in text
    assert "Retention used:" in text and "Memory" in text
    sources = [df.value for df in at.dataframe if "source" in getattr(df.value, "columns", [])]
    assert sources and all(str(url).startswith("https://") for url in sources[0]["source"])


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"gpu_source": "Custom size", "vram": "lots"}, "cannot read 'lots' as a size"),
        ({"gpu_source": "Custom size", "vram": "24"}, "give the unit"),
        ({"gpu_source": "Custom size", "vram": "1MiB"}, None),
    ],
)
def test_bad_inputs_give_a_message(query, message):
    at = _run(query)
    assert not at.exception
    if message is None:  # a tiny GPU: nothing fits, said plainly
        assert any("Nothing" in w.value for w in at.warning)
    else:
        assert any(message in e.value for e in at.error)


def test_no_nvidia_gpu_is_a_message():
    at = _run({"gpu_source": "Detected (NVML)"})
    assert not at.exception
    assert at.error or at.success  # an error without NVML, a ranking on a machine with a GPU
