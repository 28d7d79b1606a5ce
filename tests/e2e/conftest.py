"""Shared fixtures of the real-browser tests: ``streamlit run app.py`` on a free port and Debian's chromium.

Skips only when the ``playwright`` package or a chromium binary is missing (``.ci/run`` installs
Debian's ``chromium``; set ``CHROMIUM`` to use another binary).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from benchmarks.processes import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120
STEP_TIMEOUT_MS = 90_000


def _sync_api():
    """Playwright's sync API, imported when a browser is first needed (the tests skip without it)."""
    return pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")


def _chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("screenshots")
    print(f"\nscreenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """``streamlit run app.py`` on a free port; yields its base URL once the health check answers."""
    port = free_port()
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
        stop_process(proc)


@pytest.fixture(scope="module")
def browser():
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no chromium binary (apt-get install chromium, or set CHROMIUM)")
    with _sync_api().sync_playwright() as p:
        # root in CI: chromium's sandbox needs an unprivileged user; /dev/shm is small in containers
        b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, base_url=app_url)
    page = context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    _sync_api().expect.set_options(timeout=STEP_TIMEOUT_MS)
    yield page
    context.close()
