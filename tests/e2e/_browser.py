"""Helpers of the real-browser tests: find what a user sees (the sidebar's boxes by label, the verdict by text)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

ROOT = Path(__file__).resolve().parents[2]
STEP_TIMEOUT_MS = 90_000  # as in conftest.py

VERDICT = re.compile(r"Fits|Does not fit|Will not run here")


def main(page):
    return page.get_by_test_id("stMain")


def sidebar(page):
    return page.get_by_test_id("stSidebar")


def verdict(page):
    """The Fit check page's verdict box (success or error alert whose text starts with the verdict)."""
    return main(page).get_by_test_id("stAlert").filter(has_text=VERDICT).first


def settled(page) -> None:
    """Wait until Streamlit is not rerunning (its status widget shows while a script runs)."""
    sync_api.expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)


def params(page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def gpu_box(page):
    return sidebar(page).get_by_role("combobox", name="GPU", exact=True)
