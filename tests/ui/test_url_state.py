"""The page's link contract in AppTest: stable ids in and out, the widget wins over its own echo, warnings name
the parameter and the value shown instead, and older links still open.

The real-browser matrix (reload, page change and back, a fresh browser) is tests/e2e/test_links.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")
FULL = {"source", "model", "format", "engine", "context", "batch", "kv", "gpu", "gpus"}


def _run(query):
    at = AppTest.from_file(APP, default_timeout=90)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def _url(at) -> dict[str, str]:
    return {k: (v[-1] if isinstance(v, list) else v) for k, v in at.query_params.items()}


def _warnings(at) -> str:
    return " ".join(w.value for w in at.warning)


def test_a_fresh_page_writes_the_whole_plan_as_ids():
    at = _run({})
    assert not at.exception
    assert _url(at) == {
        "source": "catalog",
        "model": "meta-llama/Llama-3.1-8B",
        "format": "q4_k_m",
        "engine": "auto",
        "context": "8192",
        "batch": "1",
        "kv": "auto",
        "gpu": "rtx-4090",
        "gpus": "1",
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"gpu": "rtx-3090", "format": "bnb-nf4"}, {"gpu": "rtx-3090", "format": "bnb-nf4"}),
        ({"gpu": "NVIDIA GeForce RTX 3090"}, {"gpu": "rtx-3090"}),  # a name, as older links wrote
        ({"gpu": "RTX-3090"}, {"gpu": "rtx-3090"}),
        ({"context": "32768"}, {"context": "32768"}),
        ({"context": "32k"}, {"context": "32768"}),
        ({"context": "3000"}, {"context": "3000"}),  # not a slider stop: shown exactly, not reset
        (
            {"format": "Q4_K_M", "engine": "LLAMA.CPP", "kv": "Q8_0"},
            {"format": "q4_k_m", "engine": "llama.cpp", "kv": "q8_0"},
        ),
        ({"format": "q4_k_m", "kv": "q8_0"}, {"engine": "auto", "kv": "q8_0"}),  # auto runs llama.cpp
        ({"batch": "2000", "gpus": "32"}, {"batch": "2000", "gpus": "32"}),
        ({"vram": "80GiB"}, {"vram": "80GiB"}),
        (
            {"source": "hub", "model": "fake-org/not-cached"},
            {"source": "hub", "model": "fake-org/not-cached"},
        ),
    ],
)
def test_link_values_are_shown_exactly_and_written_back_as_ids(query, expected, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    at = _run(query)
    assert not at.exception
    url = _url(at)
    assert {k: url.get(k) for k in expected} == expected
    assert not [w for w in at.warning if "The link" in w.value]


def test_the_plan_reads_the_linked_values():
    at = _run({"context": "3000", "batch": "3", "gpu": "rtx-3090", "format": "bf16"})
    plan = at.session_state["_plan"]
    assert (plan.request.context, plan.request.batch, plan.request.gpu, plan.format_id) == (
        3000,
        3,
        "rtx-3090",
        "bf16",
    )
    assert at.select_slider(key="context").value == 3000


@pytest.mark.parametrize(
    ("query", "parameter", "shown"),
    [
        ({"context": "-5"}, "context", "8,192 tokens"),
        ({"context": "1e400"}, "context", "8,192 tokens"),
        ({"batch": "-1"}, "batch", "1"),
        ({"batch": "abc"}, "batch", "1"),
        ({"gpus": "0"}, "gpus", "1"),
        ({"gpus": "1000"}, "gpus", "1"),
        ({"kv": "q3_z"}, "kv", "auto"),
        ({"source": "ftp"}, "source", "Catalog"),
        ({"format": "q9_z"}, "format", "q4_k_m"),
        ({"engine": "tgi"}, "engine", "auto"),
        ({"gpu": "a-gpu-from-the-future"}, "gpu", "NVIDIA GeForce RTX 4090"),
        ({"gpu": "h100"}, "gpu", "NVIDIA GeForce RTX 4090"),  # ambiguous: the message lists the three
        ({"model": "nobody/nothing"}, "model", "meta-llama/Llama-3.1-8B"),
        ({"gpu_source": "GPU in the sky"}, "gpu_source", "Catalog GPU"),
    ],
)
def test_unusable_values_warn_with_the_parameter_and_the_value_shown(query, parameter, shown):
    at = _run(query)
    assert not at.exception
    text = _warnings(at)
    ((name, value),) = query.items()
    assert f"`{name}={value}`" in text and f"Showing {parameter} **{shown}** instead" in text
    assert _url(at)[parameter if parameter != "gpu_source" else "gpu"]  # the URL states what is shown


def test_an_overlong_value_is_refused_unread_and_fast():
    start = time.monotonic()
    at = _run({"vram": "9" * 100_000, "gpu": "x" * 5_000})
    assert time.monotonic() - start < 60
    assert not at.exception
    text = _warnings(at)
    assert "100,000 characters long" in text and len(text) < 1500
    assert _url(at)["vram"] == "24GiB"


def test_the_widget_wins_over_its_own_echo_and_the_url_follows():
    at = _run({"gpu": "rtx-3090", "context": "32k"})
    at.selectbox(key="gpu").select("h100-sxm")
    at.select_slider(key="context").set_value(2048)
    at.run()
    assert not at.exception
    assert _url(at)["gpu"] == "h100-sxm" and _url(at)["context"] == "2048"
    assert at.session_state["_plan"].request.gpu == "h100-sxm"


def test_a_warning_stays_until_the_value_changes():
    at = _run({"batch": "abc"})
    at.run()  # a rerun (any widget) keeps telling the reader what happened to the link
    assert "`batch=abc`" in _warnings(at)
    at.number_input(key="batch").set_value(4)
    at.run()
    assert "`batch=abc`" not in _warnings(at)


def test_page_changes_keep_the_sidebar_and_the_link():
    at = _run({"gpu": "rtx-3090", "format": "bf16", "context": "16384"})
    for page in ("ui/pages/context.py", "ui/pages/fit_check.py"):
        at.switch_page(page)
        at.run()
        assert not at.exception
        url = _url(at)
        assert (url["gpu"], url["format"], url["context"]) == ("rtx-3090", "bf16", "16384")
        assert set(url) >= FULL


def test_older_links_open_and_are_rewritten_in_todays_spelling(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    at = _run({"source": "Hub id", "hub": "fake-org/not-cached"})
    assert (_url(at)["source"], _url(at)["model"]) == ("hub", "fake-org/not-cached")
    assert "hub" not in _url(at)
    at = _run({"gpu_source": "Custom size", "vram": "12GiB", "kv-dtype": "q8_0", "format": "q4_k_m"})
    url = _url(at)
    assert (url["vram"], url["kv"]) == ("12GiB", "q8_0") and "gpu_source" not in url and "kv-dtype" not in url
    at = _run({"gpu_source": "Detected (NVML)"})
    assert _url(at).get("live") == "on" and at.session_state["_plan"].gpu_source == "live"


def test_gpu_and_vram_together_say_which_one_is_planned():
    at = _run({"gpu": "rtx-3090", "vram": "12GiB"})
    assert "both `gpu=rtx-3090` and `vram=12GiB`" in _warnings(at)
    assert _url(at)["vram"] == "12GiB" and "gpu" not in _url(at)


def test_every_sidebar_widget_is_drawn_with_the_plans_value_as_its_default():
    """A widget the browser draws anew (the sidebar after a page switch on a busy server) shows its default:
    each one's default must be the session's value, or the box reads RTX 2060 while the page plans an RTX 3060
    (seen in Chromium under load, tests/e2e/test_browser.py)."""
    at = _run({"gpu": "rtx-3060", "format": "q8_0", "engine": "llama.cpp", "kv": "q8_0", "context": "32768",
               "batch": "3", "gpus": "2", "model": "Qwen/Qwen3-8B"})  # fmt: skip
    assert not at.exception
    for key in ("gpu", "format", "engine", "kv", "model"):
        box = at.selectbox(key=key)
        assert box.options[box.proto.default] == box.format_func(box.value), key
    for key in ("source", "gpu_source"):
        radio = at.radio(key=key)
        assert radio.options[radio.proto.default] == radio.format_func(radio.value), key
    slider = at.select_slider(key="context")
    assert slider.options[int(slider.proto.default[0])] == slider.format_func(slider.value) == "32k"
    assert [at.number_input(key=k).proto.default for k in ("batch", "gpus")] == [3, 2]
