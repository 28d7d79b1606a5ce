"""TensorRT-LLM (``trtllm-serve``, PyTorch backend): a dry run, then a fraction of the free memory for KV."""

from planner.engines.trtllm.engine import ENGINE, TrtllmEngine

__all__ = ["ENGINE", "TrtllmEngine"]
