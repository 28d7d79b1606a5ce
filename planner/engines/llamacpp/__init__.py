"""llama.cpp (llama-server / llama-cli, CUDA backend) and the Ollama runner that wraps it."""

from planner.engines.llamacpp.engine import ENGINE, LlamaCppEngine

__all__ = ["ENGINE", "LlamaCppEngine"]
