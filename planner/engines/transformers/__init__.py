"""Hugging Face transformers 5.x: ``model.generate`` with a ``DynamicCache``, all weights on one GPU."""

from planner.engines.transformers.engine import ENGINE, TransformersEngine

__all__ = ["ENGINE", "TransformersEngine"]
