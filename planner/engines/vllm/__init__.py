"""vLLM (v1 engine) on one GPU: paged KV cache, ``gpu_memory_utilization`` reservation."""

from planner.engines.vllm.engine import ENGINE, VllmEngine

__all__ = ["ENGINE", "VllmEngine"]
