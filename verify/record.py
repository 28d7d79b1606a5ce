"""The JSON record of one run: its config, environment, measurements, the planner's prediction
for the same configuration, and the error of each component.

Bytes are integers. The names under ``measured`` and ``predicted`` are a contract
(``data/measurements/README.md``): keys may be added, never renamed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from planner.memory.estimate import MemoryEstimate

SCHEMA = 1
STATUSES = ("ok", "oom", "skipped", "error", "dry-run")

#: measured key -> predicted key, compared component by component.
COMPARED = (
    ("weights", "weights"),
    ("kv_cache", "kv_cache"),
    ("kv_cache_storage", "kv_cache_storage"),
    ("peak_allocated", "peak_allocated"),
    ("cuda_context", "cuda_context"),
    ("overhead", "overhead"),
    ("process_total", "total"),
)


def predicted_dict(est: MemoryEstimate) -> dict[str, Any]:
    """The planner's figures for a record; sums of its own components, nothing recomputed.

    ``peak_allocated`` = weights + KV + activations (what torch's allocator holds at the
    prefill peak); ``kv_cache_storage`` = KV + what sliding layers pin until the first decode
    step (a part of the planner's activations); ``cuda_context`` = the context part of its overhead.
    """
    d = est.to_dict()
    mem = d["memory"]
    retention = est.activations.parts.get("sliding_prefill_retention", 0)
    return {
        "weights": mem["weights"],
        "kv_cache": mem["kv_cache"],
        "activations": mem["activations"],
        "overhead": mem["overhead"],
        "total": mem["total"],
        "total_low": mem["total_low"],
        "total_high": mem["total_high"],
        "peak_allocated": mem["weights"] + mem["kv_cache"] + mem["activations"],
        "kv_cache_storage": mem["kv_cache"] + retention,
        "cuda_context": est.overhead.parts.get("cuda_context"),
        "kv_dtype": d["kv_dtype"],
        "bits_per_weight": d["bits_per_weight"],
        "parameters": d["parameters"]["total"],
        "notes": d["notes"],
    }


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def compare(measured: Mapping[str, Any], predicted: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Absolute (measured - predicted, bytes) and relative error for each component both sides have."""
    out = {}
    for m_key, p_key in COMPARED:
        m, p = measured.get(m_key), predicted.get(p_key)
        if not (_number(m) and _number(p)):
            continue
        diff = int(m) - int(p)
        out[m_key] = {
            "measured": int(m),
            "predicted": int(p),
            "abs": diff,
            "rel": round(diff / p, 6) if p else None,
        }
    return out


def verdict(status: str, predicted: Mapping[str, Any], gpu_bytes: int | None) -> dict[str, Any]:
    """Did the planner's total say it fits, and did it? (An OOM checks the "does not fit" verdict.)"""
    total = predicted.get("total")
    fits = None if gpu_bytes is None or not _number(total) else total <= gpu_bytes
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
        return compare(self.measured, self.predicted)

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
