"""The "What can I run" page (AppTest): the per-bit-width answer, the chart, filters in the URL, evidence,
bad input, never a traceback, never ``None`` or a long float in a table.

Expected picks are the hand-derived ones of ``tests/planner/recommend/test_ranking.py``: the default
RTX 4090 (23.99 GiB) gives the 24 GiB answers there (Qwen3.5-27B in Q5_K_M, 86.1 on MMLU-Pro at a 100%
retention; the largest 4-bit model is Seed-OSS-36B-Instruct in Q4_K_M, 82.7 x 0.99622 = 82.4, 10,240 tokens of
context left).
"""

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from planner.catalog import load_catalog

APP = str(Path(__file__).resolve().parents[3] / "app.py")
PAGE = "ui/pages/what_can_i_run.py"
LONG_FLOAT = re.compile(r"\d\.\d{4,}")


def _run(query=None):
    at = AppTest.from_file(APP, default_timeout=300)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.switch_page(PAGE)
    return at.run()


def _frames(at):
    return [df.value for df in at.dataframe]


def _widths(at):
    """The per-bit-width table (its first column is 'bits')."""
    return next(f for f in _frames(at) if list(f.columns[:2]) == ["bits", "largest model that fits"])


def _table(at):
    """The everything-that-fits table."""
    return next(f for f in _frames(at) if "why unranked" in f.columns)


def test_the_answer_comes_first_per_bit_width():
    at = _run()
    assert not at.exception
    assert at.title[0].value == "What can I run"
    widths = _widths(at)
    assert list(widths["bits"]) == ["16-bit", "8-bit", "6-bit", "5-bit", "4-bit", "3-bit", "2-bit"]
    four = widths[widths["bits"] == "4-bit"].iloc[0]
    assert (four["largest model that fits"], four["format"], four["context left"]) == (
        "ByteDance-Seed/Seed-OSS-36B-Instruct",
        "q4_k_m",
        "10,240",
    )
    assert four["expected"] == "82.4" and four["needs"].endswith(" GiB")  # 82.7 x 0.99622
    for value in widths.to_numpy().ravel():  # finished cells: no None, no NaN, no long floats
        text = str(value)
        assert text not in ("None", "nan") and not LONG_FLOAT.search(text), text
    subheaders = [s.value for s in at.subheader]
    assert subheaders.index("The largest model at each bit width") < subheaders.index(
        "Expected quality against memory"
    )


def test_best_pick_chart_and_trade_offs():
    at = _run()
    assert "Best pick: Qwen/Qwen3.5-27B in `q5_k_m`" in at.success[0].value
    assert "GiB" in at.success[0].value and " GB" not in at.success[0].value
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Expected score"] == "86.1" and metrics["Needs"].endswith(" GiB")
    chart = at.get("plotly_chart")
    assert len(chart) == 1
    spec = chart[0].proto.spec
    assert (
        '"Pareto front"' in spec
        and "4-bit of a larger model wins" in spec
        and "2-bit of a larger model loses" in spec
    )
    # Qwen3.5-4B bf16 (79.1) against Qwen3.5-27B in AWQ, 86.1 x 0.9971 = 85.85 (test_ranking::test_24_gib_trade_offs)
    assert any("the larger model at 4-bit is expected to score 6.8 points higher" in i.value for i in at.info)
    assert any("the 4-bit model is expected to score 4.1 points higher" in w.value for w in at.warning)


def test_table_is_finished():
    at = _run()
    data = _table(at)
    assert data.iloc[0]["rank"] == 1 and data.iloc[0]["model"] == "Qwen/Qwen3.5-27B"
    assert str(data["rank"].dtype) == "Int64"  # whole numbers, not 1.000000
    unranked = data[data["rank"].isna()]
    assert len(unranked) and (unranked["retention"] != "None").all()
    assert (data["why unranked"].astype(str) != "None").all() and (
        data["retention"].astype(str) != "None"
    ).all()
    ranked = data[data["rank"].notna()]
    assert (ranked["why unranked"] == "—").all()
    assert {"needs GiB", "headroom GiB", "expected", "retention"} <= set(data.columns)


def test_url_filters_bit_width_sort_and_family():
    at = _run({"rec_bits": ["4-bit"], "rec_sort": "headroom", "rec_family": ["qwen2"], "engine": "vllm"})
    assert not at.exception
    assert at.multiselect(key="rec_bits").value == ["4"]
    data = _table(at)
    families = {load_catalog()[m].family for m in data["model"]}  # Qwen2/2.5, QwQ, the R1 Qwen distills
    assert set(data["engine"]) == {"vllm"} and families == {"qwen2"}
    assert list(_widths(at)["bits"]) == ["4-bit"]
    ranked = data[data["rank"].notna()]
    assert list(ranked["headroom GiB"]) == sorted(ranked["headroom GiB"], reverse=True)


def test_modality_and_architecture_filters():
    at = _run({"rec_modality": ["vision"], "rec_arch": ["dense"]})
    assert not at.exception
    models = set(_table(at)["model"])
    # the catalog's dense vision models that fit: Gemma 3, Gemma 4 31B, Qwen3.5-27B
    assert models and all(m.startswith(("google/gemma-3", "google/gemma-4", "Qwen/Qwen3.5")) for m in models)
    assert not {m for m in models if "A3B" in m or "A4B" in m}  # MoE models are filtered out


def test_mmlu_benchmark_from_the_url():
    at = _run({"rec_benchmark": "MMLU (5-shot)", "gpu_source": "Custom size", "vram": "12GiB"})
    assert at.selectbox(key="rec_benchmark").value == "mmlu"
    assert "Best pick: Qwen/Qwen3-14B in `q4_k_m`" in at.success[0].value  # test_ranking::test_12_gib_on_mmlu


def test_evidence_links_to_sources():
    at = _run()
    assert at.selectbox(key="rec_evidence").value == 0
    text = " ".join(m.value for m in at.markdown)
    assert "[source](https://huggingface.co/Qwen/Qwen3.5-27B)" in text  # #1: Qwen3.5-27B
    assert "Retention used:" in text and "Memory" in text
    sources = [f for f in _frames(at) if "source" in getattr(f, "columns", [])]
    assert sources and all(str(url).startswith("https://") for url in sources[0]["source"])


def test_kld_translated_retention_is_marked_approximate():
    """llama.cpp's IQ4_XS has only a published KLD (0.036334 on Llama 3 8B): between Unsloth's UD-Q4_K_XL
    (0.023701, 71.47/71.5) and UD-Q3_K_XL (0.080617, 70.87/71.5) it reads 99.82%, shown with a '~'."""
    at = _run({"engine": "llama.cpp", "rec_family": ["llama"]})
    assert not at.exception
    data = _table(at)
    iq4 = data[data["format"] == "iq4_xs"]
    expected = 71.47 / 71.5 + (70.87 - 71.47) / 71.5 * (0.036334 - 0.023701) / (0.080617 - 0.023701)
    assert len(iq4) and (iq4["retention"] == f"~{100 * expected:.2f}%").all()


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


def test_a_hub_id_that_cannot_be_read_is_left_out_with_the_reason(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    at = _run({"rec_add": "fake-org/not-here"})
    assert not at.exception and at.success  # the ranking still stands
    text = " ".join(m.value for m in at.markdown)
    assert "left out `fake-org/not-here`: could not be read from the Hub" in text


def test_no_nvidia_gpu_is_a_message():
    at = _run({"gpu_source": "Detected on this machine"})
    assert not at.exception
    assert at.error or at.success  # an error without NVML, a ranking on a machine with a GPU
