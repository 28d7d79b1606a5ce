"""Recorded tool outputs (tests/fixtures/hardware, sources in SOURCES.md) replayed through a fake runner."""

from __future__ import annotations

from pathlib import Path

from planner.hardware.tools import ToolOutput

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "hardware"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


class FakeRunner:
    """Answers each argv with a recorded output; anything else is "not installed". Records the calls."""

    def __init__(self, outputs: dict[tuple[str, ...], str | ToolOutput] | None = None):
        self.outputs = outputs or {}
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, argv, timeout):
        argv = tuple(argv)
        self.calls.append(argv)
        assert all(isinstance(a, str) for a in argv) and timeout <= 10
        answer = self.outputs.get(argv)
        if answer is None:
            return ToolOutput(argv, None, f"{argv[0]} is not installed")
        if isinstance(answer, ToolOutput):
            return answer
        return ToolOutput(argv, answer)


def failed(argv: tuple[str, ...], error: str) -> ToolOutput:
    return ToolOutput(argv, None, error)
