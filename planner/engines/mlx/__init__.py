"""MLX (mlx-lm v0.31.3 on mlx v0.32.1): Apple's array framework as LM Studio's Mac engine and mlx_lm run it."""

from planner.engines.mlx.engine import ENGINE, MlxEngine

__all__ = ["ENGINE", "MlxEngine"]
