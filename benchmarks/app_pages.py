"""Benchmark: the server time of one rerun of each app page, and the cold start to the first rendered page.

Run: ``python -m benchmarks.app_pages [--runs 5] [--pages context,verify] [--no-browser]``.

* Rerun: each page in ``app.py``'s navigation runs in Streamlit's ``AppTest`` (the script as the
  server runs it, sidebar included, no browser): one warm-up run, then ``--runs`` timed reruns;
  prints the median, fastest and slowest.
* Cold start: ``python -m streamlit run app.py`` as a fresh subprocess; the time until its health
  endpoint answers, then until headless chromium (Playwright) shows the default page's title and
  verdict; then a second page load in a new browser context, with the server warm. Without
  Playwright or chromium (``--no-browser``), the HTTP figure only.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from benchmarks.processes import free_port, stop_process

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"


def app_pages() -> list[tuple[str, str]]:
    """``(title, path)`` of every ``st.Page`` in ``app.py``'s navigation, in order (read, not run)."""
    pages = []
    for node in ast.walk(ast.parse(APP.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "Page":
            path = node.args[0]
            name = path.right.value if isinstance(path, ast.BinOp) else None
            title = next((k.value.value for k in node.keywords if k.arg == "title"), name)
            if name:
                pages.append((title, f"ui/pages/{name}"))
    return pages


def time_reruns(page: str, runs: int) -> list[float]:
    """Seconds of ``runs`` AppTest reruns of ``page`` after one warm-up run."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=300)
    at.switch_page(page)
    at.run()
    if at.exception:
        raise RuntimeError(f"{page}: {at.exception[0].value}")
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t0)
    return times


def _chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def _serve() -> tuple[subprocess.Popen, str, float]:
    """Start ``streamlit run app.py``; returns the process, its URL and the launch time."""
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.port",
        str(port),
        "--server.headless",
        "true",
    ]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return proc, f"http://127.0.0.1:{port}", t0


def _wait_healthy(proc: subprocess.Popen, url: str) -> None:
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.05)  # polling a port: there is no event to wait for


def _rendered(browser, url: str) -> None:
    """Open ``url`` in a fresh browser context and wait for the default page's title and verdict."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.goto(url)
        main = page.get_by_test_id("stMain")
        expect(main.get_by_role("heading").first).to_be_visible(timeout=300_000)
        expect(main.get_by_test_id("stAlert").first).to_be_visible(timeout=300_000)
    finally:
        context.close()


def cold_start(browser: bool) -> dict[str, float]:
    """Seconds from ``streamlit run`` to a healthy server and to the first page rendered in chromium.

    Chromium is started before the server, so its own start-up is not counted.
    """
    out: dict[str, float] = {}
    chromium = _chromium() if browser else None
    if chromium is None:
        proc, url, t0 = _serve()
        try:
            _wait_healthy(proc, url)
            out["server healthy"] = time.perf_counter() - t0
            with urllib.request.urlopen(url, timeout=10) as resp:
                resp.read()
            out["index.html served"] = time.perf_counter() - t0
        finally:
            stop_process(proc)
        return out
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"])
        proc, url, t0 = _serve()
        try:
            _wait_healthy(proc, url)
            out["server healthy"] = time.perf_counter() - t0
            _rendered(b, url)
            out["first page rendered (cold server)"] = time.perf_counter() - t0
            start = time.perf_counter()
            _rendered(b, url)
            out["new session rendered (warm server)"] = time.perf_counter() - start
        finally:
            stop_process(proc)
            b.close()
    return out


def main() -> None:
    """Time every page's rerun and the cold start, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed reruns per page (median reported)")
    parser.add_argument("--pages", help="comma-separated page file stems (default: every page)")
    parser.add_argument("--no-browser", action="store_true", help="cold start: HTTP only, no chromium")
    parser.add_argument("--no-cold-start", action="store_true")
    args = parser.parse_args()

    pages = app_pages()
    if args.pages:
        wanted = set(args.pages.split(","))
        pages = [(t, p) for t, p in pages if Path(p).stem in wanted]
    print(f"server time of one rerun (AppTest, default inputs, median of {args.runs} after a warm-up):")
    for title, page in pages:
        times = time_reruns(page, max(args.runs, 1))
        print(
            f"  {title:<16} median {statistics.median(times) * 1e3:7.0f} ms "
            f"(fastest {min(times) * 1e3:.0f} ms, slowest {max(times) * 1e3:.0f} ms)"
        )
    if not args.no_cold_start:
        print("cold start (python -m streamlit run app.py, seconds from launch):")
        for label, seconds in cold_start(browser=not args.no_browser).items():
            print(f"  {label:<34} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
