"""The ``hub`` fixture: a fake Hub on loopback (tests/fakehub.py) with a fresh HF cache per test.

No mocking of huggingface_hub: its real client talks HTTP to a local server. The
endpoint and cache are redirected by patching ``huggingface_hub.constants`` the way
huggingface_hub's own tests do (``ENDPOINT`` *and* ``HUGGINGFACE_CO_URL_TEMPLATE``,
which is derived from it at import time).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from huggingface_hub import constants

from tests.fakehub import FakeHub


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    server = FakeHub().start()
    monkeypatch.setattr(constants, "ENDPOINT", server.url)
    monkeypatch.setattr(
        constants, "HUGGINGFACE_CO_URL_TEMPLATE", server.url + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "token"))
    monkeypatch.setattr(constants, "AGENT_HARNESSES_PATH", str(tmp_path / "agent_harnesses.json"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    try:
        yield server
    finally:
        server.stop()
