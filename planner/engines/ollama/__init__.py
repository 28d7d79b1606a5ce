"""Ollama (v0.32.15): the ``ollama serve`` scheduler that launches llama.cpp's ``llama-server``."""

from planner.engines.ollama.engine import ENGINE, OllamaEngine

__all__ = ["ENGINE", "OllamaEngine"]
