"""The JSON record of one run: its config, environment, measurements, the planner's prediction
for the same configuration, and the error of each component.

Bytes are integers. The names under ``measured`` and ``predicted`` are a contract
(``data/measurements/README.md``): keys may be added, never renamed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from planner.measurements import COMPARED, compare, derived_measurements, predicted_dict

SCHEMA = 1
STATUSES = ("ok", "oom", "skipped", "error", "dry-run")


def verdict(status: str, predicted: Mapping[str, Any], gpu_bytes: int | None) -> dict[str, Any]:
    """Did the planner's total say it fits, and did it? (An OOM checks the "does not fit" verdict.)"""
    total = predicted.get("total")
    fits = None if gpu_bytes is None or not isinstance(total, int | float) else total <= gpu_bytes
    ran = {"ok": True, "oom": False}.get(status)
    return {
        "gpu_bytes": gpu_bytes,
        "predicted_fits": fits,
        "measured_fits": ran,
        "agrees": None if fits is None or ran is None else fits == ran,
    }


@dataclass(frozen=True, slots=True)
class Record:
    """One run's outcome. ``status``: ok, oom ("does not fit"), skipped, error or dry-run."""

    config: dict[str, Any]
    status: str
    predicted: dict[str, Any] = field(default_factory=dict)
    measured: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    notes: tuple[str, ...] = ()
    dry_run: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, not '{self.status}'")

    @property
    def error(self) -> dict[str, dict[str, Any]]:
        """Per-component error of the measurement against the prediction."""
        return compare(derived_measurements(self.measured), self.predicted)

    def to_dict(self) -> dict[str, Any]:
        """The JSON record (integer bytes)."""
        gpu = self.environment.get("gpu") or {}
        out = {
            "schema": SCHEMA,
            "config": self.config,
            "status": self.status,
            "reason": self.reason,
            "environment": self.environment,
            "model": self.model,
            "measured": self.measured,
            "predicted": self.predicted,
            "error": self.error,
            "verdict": verdict(self.status, self.predicted, gpu.get("usable_bytes")),
            "notes": list(self.notes),
        }
        if self.dry_run is not None:
            out["dry_run"] = self.dry_run
        return out


__all__ = ["COMPARED", "SCHEMA", "STATUSES", "Record", "compare", "predicted_dict", "verdict"]
