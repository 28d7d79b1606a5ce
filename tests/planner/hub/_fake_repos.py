"""Repos of the fake Hub (tests/fixtures/hub/repos.json) and helpers to read its request log."""

from __future__ import annotations

import pytest
from huggingface_hub import constants

from tests.fakehub import FakeHub

TINY = "fake-org/tiny-llama"
TINY_SHA = "1" * 40
GPTQ = "fake-org/tiny-llama-gptq"
FP8 = "fake-org/tiny-fp8"
GGUF = "fake-org/tiny-llama-GGUF"
SENTINEL = "hf_SENTINELdoNotLeak0123456789"

# Stored elements of the tiny llama: embed + lm_head + final norm + 2 layers.
TINY_PARAMS = 2 * 256 * 64 + 64 + 2 * (2 * 64 + 2 * 64 * 64 + 2 * 32 * 64 + 3 * 128 * 64)


def repo_requests(server: FakeHub, repo_id: str | None = None):
    """Requests about repos (huggingface_hub also asks for /api/agent-harnesses)."""
    return [
        r
        for r in server.requests
        if "agent-harnesses" not in r.path and (repo_id is None or repo_id in r.path)
    ]


def go_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
