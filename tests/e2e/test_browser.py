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
from urllib.parse import parse_qs, urlparse

from tests.e2e._browser import ROOT, gpu_box, main, params, settled, sidebar, sync_api, verdict

SMALL_MODEL = ROOT / "data" / "models" / "Qwen--Qwen2.5-0.5B-Instruct.json"
RTX_3060 = "NVIDIA GeForce RTX 3060"
H100 = "NVIDIA H100 SXM5 80GB"
SHARED = f"/?model=meta-llama/Llama-3.1-8B&format=bf16&gpu={RTX_3060.replace(' ', '+')}"


def test_a_shared_url_reproduces_the_view(page, shots):
    page.goto(SHARED)
    sync_api.expect(verdict(page)).to_contain_text("Does not fit")
    sync_api.expect(gpu_box(page)).to_have_value(RTX_3060)
    sync_api.expect(sidebar(page).get_by_role("combobox", name="Weight format", exact=True)).to_have_value(
        "bf16"
    )
    sync_api.expect(main(page)).to_contain_text("meta-llama/Llama-3.1-8B")
    settled(page)
    page.screenshot(path=shots / "1-shared-url.png")


def test_changing_the_gpu_changes_the_verdict_and_the_url(page, shots):
    page.goto(SHARED)
    sync_api.expect(verdict(page)).to_contain_text("Does not fit")
    box = gpu_box(page)
    box.click()
    box.fill("H100 SXM")
    page.get_by_role("option", name=H100, exact=True).click()
    sync_api.expect(verdict(page)).to_contain_text("Fits")
    # The URL carries the GPU's id, not its name.
    page.wait_for_url(lambda url: parse_qs(urlparse(url).query).get("gpu") == ["h100-sxm"])
    assert params(page)["format"] == ["bf16"]  # the rest of the shared view stays in the URL
    sync_api.expect(main(page)).to_contain_text(H100)
    settled(page)
    page.screenshot(path=shots / "2-gpu-changed.png")


def test_an_uploaded_config_is_planned(page, shots, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(json.loads(SMALL_MODEL.read_text())["config"]))
    page.goto(SHARED)
    sync_api.expect(verdict(page)).to_be_visible()
    sidebar(page).get_by_test_id("stRadio").get_by_text("Upload config.json").click()
    uploader = sidebar(page).locator("input[type=file]")
    uploader.wait_for(state="attached")
    uploader.set_input_files(str(config))
    sync_api.expect(main(page)).to_contain_text("config.json")
    sync_api.expect(verdict(page)).to_contain_text("Fits")  # 0.5B parameters in bf16 on 12 GiB
    page.wait_for_url(lambda url: parse_qs(urlparse(url).query).get("source") == ["upload"])
    settled(page)
    page.screenshot(path=shots / "3-uploaded-config.png")


def test_the_context_page_keeps_the_sidebar_and_draws_curves(page, shots):
    page.goto(SHARED)
    sync_api.expect(verdict(page)).to_be_visible()
    settled(page)
    page.get_by_test_id("stSidebarNav").get_by_text("Context", exact=True).click()
    sync_api.expect(page.get_by_role("heading", name="Context")).to_be_visible()
    sync_api.expect(main(page).get_by_text("What shapes these curves")).to_be_visible()
    sync_api.expect(main(page)).to_contain_text(RTX_3060)  # the sidebar's GPU survived the page switch
    sync_api.expect(gpu_box(page)).to_have_value(RTX_3060)
    sync_api.expect(main(page).get_by_test_id("stPlotlyChart")).to_have_count(1)
    sync_api.expect(main(page).locator(".js-plotly-plot .scatterlayer .trace").first).to_be_visible()
    sync_api.expect(main(page).get_by_test_id("stDataFrame")).to_have_count(1)
    settled(page)
    page.screenshot(path=shots / "4-context-from-navigation.png")


def test_a_shared_context_url_seeds_the_page(page, shots):
    gpu = RTX_3060.replace(" ", "+")
    page.goto(
        f"/context?model=google/gemma-3-12b-it&gpu={gpu}&ctx_formats=q4_k_m&ctx_formats=q8_0&ctx_kv=q4_0"
    )
    sync_api.expect(main(page).get_by_text("What shapes these curves")).to_be_visible()
    chips = main(page).get_by_test_id("stMultiSelect")
    sync_api.expect(chips.first).to_contain_text("q4_k_m")
    sync_api.expect(chips.first).to_contain_text("q8_0")
    sync_api.expect(chips.nth(1)).to_contain_text("q4_0")
    sync_api.expect(main(page)).to_contain_text("sliding window of 1,024 tokens")  # Gemma 3's layers
    sync_api.expect(main(page).locator(".js-plotly-plot .scatterlayer .trace")).not_to_have_count(0)
    page.wait_for_url(lambda url: parse_qs(urlparse(url).query).get("ctx_formats") == ["q4_k_m", "q8_0"])
    settled(page)
    page.screenshot(path=shots / "5-context-shared.png")


def test_what_can_i_run_answers_per_bit_width_with_the_chart(page, shots):
    """The largest model per bit width comes first, then the quality-against-memory chart with its Pareto front
    and the trade-off arrows; the tables fit a 1400 px window (no horizontal scrollbar on either grid)."""
    page.goto(f"/what_can_i_run?gpu={RTX_3060.replace(' ', '+')}")
    body = main(page)
    sync_api.expect(body.get_by_role("heading", name="The largest model at each bit width")).to_be_visible()
    sync_api.expect(body.get_by_test_id("stAlert").filter(has_text="Best pick:").first).to_be_visible()
    sync_api.expect(body.get_by_test_id("stDataFrame")).to_have_count(3)  # widths, everything, evidence rows
    chart = body.get_by_test_id("stPlotlyChart")
    sync_api.expect(chart).to_have_count(1)
    sync_api.expect(chart.locator(".legendtext", has_text="Pareto front")).to_have_count(1)
    sync_api.expect(chart.locator(".annotation-text", has_text="of a larger model")).not_to_have_count(0)
    settled(page)
    for grid in body.get_by_test_id("stDataFrame").all()[:2]:
        box = grid.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 1400
        scroller = grid.locator(".dvn-scroller").first
        widths = scroller.evaluate("el => [el.scrollWidth, el.clientWidth]")
        assert widths[0] <= widths[1] + 1, f"columns cut off: {widths}"
    page.screenshot(path=shots / "6-what-can-i-run.png", full_page=True)


def test_the_launch_section_shows_the_command_with_a_copy_button(page, shots):
    page.goto(
        f"/?model=meta-llama/Llama-3.1-8B-Instruct&format=q4_k_m&engine=ollama&gpu={RTX_3060.replace(' ', '+')}"
    )
    sync_api.expect(verdict(page)).to_contain_text("Fits")
    heading = main(page).get_by_role("heading", name="Launch command")
    sync_api.expect(heading).to_be_visible()
    code = main(page).get_by_test_id("stCode").filter(has_text="ollama serve")
    sync_api.expect(code).to_contain_text("export OLLAMA_NUM_PARALLEL=1")
    sync_api.expect(code).to_contain_text("PARAMETER num_ctx 8192")
    code.hover()  # Streamlit shows st.code's copy button on hover
    sync_api.expect(code.get_by_role("button")).to_be_visible()
    settled(page)
    code.scroll_into_view_if_needed()
    page.screenshot(path=shots / "7-launch-command.png")
