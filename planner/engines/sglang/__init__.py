"""SGLang (``python -m sglang.launch_server``): a per-token KV pool sized by ``mem_fraction_static``."""

from planner.engines.sglang.engine import ENGINE, SglangEngine

__all__ = ["ENGINE", "SglangEngine"]
