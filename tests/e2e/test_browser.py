"""End to end in a real browser: Playwright drives Debian's chromium against ``streamlit run app.py``.

Opens a shared URL, changes the GPU in the sidebar and sees the verdict and the URL change,
uploads a ``config.json``, and opens the Context page through the navigation; a screenshot of
each step goes to a temporary folder (printed with ``-s``). Elements are found by what a user
sees (the sidebar's "GPU" box by its label, the verdict by its text), and every step waits for
Streamlit's elements instead of sleeping.

Skips only when the ``playwright`` package or a chromium binary is missing; the README's test command
(``scripts/test-setup``) installs both (Debian's ``chromium``; set ``CHROMIUM`` to use another binary).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120
STEP_TIMEOUT_MS = 90_000
VERDICT = re.compile(r"Fits|Does not fit|Will not run here")
SMALL_MODEL = ROOT / "data" / "models" / "Qwen--Qwen2.5-0.5B-Instruct.json"
RTX_3060 = "NVIDIA GeForce RTX 3060"
H100 = "NVIDIA H100 SXM5 80GB"
SHARED = f"/?model=meta-llama/Llama-3.1-8B&format=bf16&gpu={RTX_3060.replace(' ', '+')}"


def _chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("screenshots")
    print(f"\nscreenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """``streamlit run app.py`` on a free port; yields its base URL once the health check answers."""
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "app.py",
                "--server.port",
                str(port),
                "--server.headless",
                "true",
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not answer in {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.25)  # polling a port: there is no event to wait for
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser():
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no chromium binary (apt-get install chromium, or set CHROMIUM)")
    with sync_api.sync_playwright() as p:
        # root in CI: chromium's sandbox needs an unprivileged user; /dev/shm is small in containers
        b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, base_url=app_url)
    page = context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    sync_api.expect.set_options(timeout=STEP_TIMEOUT_MS)
    yield page
    context.close()


def _main(page):
    return page.get_by_test_id("stMain")


def _sidebar(page):
    return page.get_by_test_id("stSidebar")


def _verdict(page):
    """The Fit check page's verdict box (success or error alert whose text starts with the verdict)."""
    return _main(page).get_by_test_id("stAlert").filter(has_text=VERDICT).first


def _settled(page) -> None:
    """Wait until Streamlit is not rerunning (its status widget shows while a script runs)."""
    sync_api.expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)


def _params(page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def _gpu_box(page):
    return _sidebar(page).get_by_role("combobox", name="GPU", exact=True)


def test_a_shared_url_reproduces_the_view(page, shots):
    page.goto(SHARED)
    sync_api.expect(_verdict(page)).to_contain_text("Does not fit")
    sync_api.expect(_gpu_box(page)).to_have_value(RTX_3060)
    sync_api.expect(_sidebar(page).get_by_role("combobox", name="Weight format", exact=True)).to_have_value(
        "bf16"
    )
    sync_api.expect(_main(page)).to_contain_text("meta-llama/Llama-3.1-8B")
    _settled(page)
    page.screenshot(path=shots / "1-shared-url.png")


def test_changing_the_gpu_changes_the_verdict_and_the_url(page, shots):
    page.goto(SHARED)
    sync_api.expect(_verdict(page)).to_contain_text("Does not fit")
    box = _gpu_box(page)
    box.click()
    box.fill("H100 SXM")
    page.get_by_role("option", name=H100, exact=True).click()
    sync_api.expect(_verdict(page)).to_contain_text("Fits")
    page.wait_for_url(lambda url: parse_qs(urlparse(url).query).get("gpu") == [H100])
    assert _params(page)["format"] == ["bf16"]  # the rest of the shared view stays in the URL
    sync_api.expect(_main(page)).to_contain_text(H100)
    _settled(page)
    page.screenshot(path=shots / "2-gpu-changed.png")


def test_an_uploaded_config_is_planned(page, shots, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(json.loads(SMALL_MODEL.read_text())["config"]))
    page.goto(SHARED)
    sync_api.expect(_verdict(page)).to_be_visible()
    _sidebar(page).get_by_test_id("stRadio").get_by_text("Upload config.json").click()
    uploader = _sidebar(page).locator("input[type=file]")
    uploader.wait_for(state="attached")
    uploader.set_input_files(str(config))
    sync_api.expect(_main(page)).to_contain_text("config.json")
    sync_api.expect(_verdict(page)).to_contain_text("Fits")  # 0.5B parameters in bf16 on 12 GiB
    page.wait_for_url(lambda url: parse_qs(urlparse(url).query).get("source") == ["Upload config.json"])
    _settled(page)
    page.screenshot(path=shots / "3-uploaded-config.png")


def test_the_context_page_keeps_the_sidebar_and_draws_curves(page, shots):
    page.goto(SHARED)
    sync_api.expect(_verdict(page)).to_be_visible()
    _settled(page)
    page.get_by_test_id("stSidebarNav").get_by_text("Context", exact=True).click()
    sync_api.expect(page.get_by_role("heading", name="Context")).to_be_visible()
    sync_api.expect(_main(page).get_by_text("What shapes these curves")).to_be_visible()
    sync_api.expect(_main(page)).to_contain_text(RTX_3060)  # the sidebar's GPU survived the page switch
    sync_api.expect(_gpu_box(page)).to_have_value(RTX_3060)
    sync_api.expect(_main(page).get_by_test_id("stPlotlyChart")).to_have_count(1)
    sync_api.expect(_main(page).locator(".js-plotly-plot .scatterlayer .trace").first).to_be_visible()
    sync_api.expect(_main(page).get_by_test_id("stDataFrame")).to_have_count(1)
    _settled(page)
    page.screenshot(path=shots / "4-context-from-navigation.png")


def test_a_shared_context_url_seeds_the_page(page, shots):
    gpu = RTX_3060.replace(" ", "+")
    page.goto(
        f"/context?model=google/gemma-3-12b-it&gpu={gpu}&ctx_formats=q4_k_m&ctx_formats=q8_0&ctx_kv=q4_0"
    )
    sync_api.expect(_main(page).get_by_text("What shapes these curves")).to_be_visible()
    chips = _main(page).get_by_test_id("stMultiSelect")
    sync_api.expect(chips.first).to_contain_text("q4_k_m")
    sync_api.expect(chips.first).to_contain_text("q8_0")
    sync_api.expect(chips.nth(1)).to_contain_text("q4_0")
    sync_api.expect(_main(page)).to_contain_text("sliding window of 1,024 tokens")  # Gemma 3's layers
    sync_api.expect(_main(page).locator(".js-plotly-plot .scatterlayer .trace")).not_to_have_count(0)
    page.wait_for_url(lambda url: parse_qs(urlparse(url).query).get("ctx_formats") == ["q4_k_m", "q8_0"])
    _settled(page)
    page.screenshot(path=shots / "5-context-shared.png")


def test_what_can_i_run_answers_per_bit_width_with_the_chart(page, shots):
    """The largest model per bit width comes first, then the quality-against-memory chart with its Pareto front
    and the trade-off arrows; the tables fit a 1400 px window (no horizontal scrollbar on either grid)."""
    page.goto(f"/what_can_i_run?gpu={RTX_3060.replace(' ', '+')}")
    main = _main(page)
    sync_api.expect(main.get_by_role("heading", name="The largest model at each bit width")).to_be_visible()
    sync_api.expect(main.get_by_test_id("stAlert").filter(has_text="Best pick:").first).to_be_visible()
    sync_api.expect(main.get_by_test_id("stDataFrame")).to_have_count(3)  # widths, everything, evidence rows
    chart = main.get_by_test_id("stPlotlyChart")
    sync_api.expect(chart).to_have_count(1)
    sync_api.expect(chart.locator(".legendtext", has_text="Pareto front")).to_have_count(1)
    sync_api.expect(chart.locator(".annotation-text", has_text="of a larger model")).not_to_have_count(0)
    _settled(page)
    for grid in main.get_by_test_id("stDataFrame").all()[:2]:
        box = grid.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 1400
        scroller = grid.locator(".dvn-scroller").first
        widths = scroller.evaluate("el => [el.scrollWidth, el.clientWidth]")
        assert widths[0] <= widths[1] + 1, f"columns cut off: {widths}"
    page.screenshot(path=shots / "6-what-can-i-run.png", full_page=True)
