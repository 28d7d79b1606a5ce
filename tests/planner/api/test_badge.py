"""The fit badge: the planner's verdict and headroom in GiB, well-formed and escaped SVG, a link to the same plan."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from planner.api.app import create_app
from planner.api.badge import Badge, short_gpu_name, text_width
from planner.hardware.units import GIB

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}href"
LLAMA = "meta-llama/Llama-3.1-8B"


@pytest.fixture(scope="module")
def api():
    return TestClient(create_app())


def _texts(svg: bytes) -> list[str]:
    root = ET.fromstring(svg)  # raises on anything not well-formed XML
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def test_the_badge_states_the_verdict_and_the_headroom_of_the_estimate(api, monkeypatch):
    monkeypatch.setenv("VRAM_PLANNER_PAGE_URL", "https://planner.example/")
    params = {"model": LLAMA, "format": "Q4_K_M", "gpu": "rtx-4090"}
    r = api.get("/v1/badge.svg", params=params)
    assert r.status_code == 200 and r.headers["content-type"] == "image/svg+xml; charset=utf-8"
    headroom = api.get("/v1/estimate", params=params).json()["headroom"]
    assert _texts(r.content) == ["Llama-3.1-8B q4_k_m", f"fits RTX 4090 · {headroom / GIB:.1f} GiB free"]
    assert f"{headroom / GIB:.1f}" == "17.1"  # the example, as the planner computes it today
    link = ET.fromstring(r.content).find(f"{SVG}a").get(XLINK)
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc) == ("https", "planner.example")
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["model"] == LLAMA and query["format"] == "q4_k_m" and query["gpu"] == "rtx-4090"
    assert query["context"] == "8192" and query["source"] == "catalog"


def test_a_plan_that_does_not_fit_is_red_and_says_by_how_much(api):
    params = {"model": LLAMA, "format": "bf16", "gpu": "rtx-3060", "context": "128k"}
    r = api.get("/v1/badge.svg", params=params)
    headroom = api.get("/v1/estimate", params=params).json()["headroom"]
    assert headroom < 0
    right = _texts(r.content)[1]
    assert right.startswith("does not fit RTX 3060") and f"short {-headroom / GIB:.1f} GiB" in right
    assert 'fill="#b03a2e"' in r.text


def test_several_gpus_and_a_custom_size_are_named(api):
    texts = _texts(
        api.get(
            "/v1/badge.svg", params={"model": LLAMA, "format": "bf16", "gpu": "4090", "gpus": "2"}
        ).content
    )
    assert texts[1].startswith("fits 2 x RTX 4090 · ")
    texts = _texts(
        api.get("/v1/badge.svg", params={"model": LLAMA, "format": "bf16", "vram": "80GiB"}).content
    )
    assert texts[1].startswith("fits 80.0 GiB GPU · ")


def test_errors_are_a_badge_naming_the_parameter_with_the_input_escaped(api):
    hostile = '<script>alert("x")</script>&'
    r = api.get("/v1/badge.svg", params={"model": LLAMA, "format": "q4_k_m", "gpu": hostile})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert "<script" not in r.text and "&lt;script&gt;" in r.text
    texts = _texts(r.content)
    assert texts[0] == "VRAM Planner" and hostile[:20] in "".join(texts) + ET.fromstring(r.content).findtext(
        f"{SVG}title"
    )
    r = api.get("/v1/badge.svg", params={"model": LLAMA, "format": "q4_k_m", "context": "-5", "gpu": "4090"})
    assert _texts(r.content)[1].startswith("context: context must be")


def test_cache_headers_and_a_revalidation(api):
    params = {"model": LLAMA, "format": "q4_k_m", "gpu": "rtx-4090"}
    first = api.get("/v1/badge.svg", params=params)
    assert "max-age=3600" in first.headers["cache-control"] and first.headers["etag"]
    again = api.get("/v1/badge.svg", params=params, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_widths_grow_with_the_text_and_the_layout_is_pinned():
    assert text_width("fits RTX 4090 · 17.1 GiB free") > text_width("fits") > 0
    svg = Badge("a & b", "c < d", "#000").svg()
    root = ET.fromstring(svg)
    assert [t.text for t in root.iter(f"{SVG}text")] == ["a & b", "c < d"]
    assert all(t.get("textLength") for t in root.iter(f"{SVG}text"))
    assert (
        short_gpu_name("NVIDIA GeForce RTX 4090") == "RTX 4090"
        and short_gpu_name("NVIDIA H100 SXM") == "H100 SXM"
    )
