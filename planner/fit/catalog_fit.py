"""Every catalog model x format that fits one GPU budget (``python -m planner fit`` and ``GET /v1/fit``)."""

from __future__ import annotations

import time
from typing import Any

from planner.catalog import load_catalog
from planner.fit.answer import gpu_json
from planner.fit.budget import Budget
from planner.fit.solvers import FormatOption, best_format, representative_formats
from planner.frozen import record
from planner.memory.estimate import RunSettings
from planner.model import ModelSpec


@record
class CatalogFit:
    """The fitting (model, format) pairs, smallest model first; ``pick`` marks each model's best format."""

    budget: Budget
    settings: RunSettings
    engine: str | None
    formats: tuple[str, ...]
    rows: tuple[tuple[ModelSpec, FormatOption], ...]
    no_fit: tuple[str, ...]
    models: int
    elapsed_s: float

    def to_dict(self) -> dict[str, Any]:
        """The ``fit --json`` contract (integer bytes)."""
        return {
            "gpu": gpu_json(self.budget),
            "per_gpu": [
                {"name": d.name, "capacity": d.capacity_bytes, "total": d.total_bytes}
                for d in self.budget.devices
            ],
            "context": self.settings.context,
            "batch": self.settings.batch,
            "engine": self.engine,
            "formats": list(self.formats),
            "fits": [
                {
                    "model": spec.name,
                    "parameters": spec.total_parameters,
                    "format": option.format_id,
                    "engine": option.fit.estimate.engine,
                    "bits_per_weight": round(option.fit.estimate.weights_report.bits_per_weight, 4),
                    "required": option.fit.required_bytes,
                    "usable": option.fit.usable_bytes,
                    "headroom": option.fit.headroom_bytes,
                    "pick": option.pick,
                }
                for spec, option in self.rows
            ],
            "no_fit": list(self.no_fit),
            "notes": list(self.budget.notes),
        }


def catalog_fit(
    budget: Budget, settings: RunSettings, engine: str | None = None, formats: tuple[str, ...] | None = None
) -> CatalogFit:
    """Try ``formats`` (default: a spread of bit widths for ``engine``) on every catalog model."""
    chosen = tuple(formats) if formats else tuple(representative_formats(engine))
    started = time.perf_counter()
    specs = sorted((e.spec() for e in load_catalog().values()), key=lambda s: (s.total_parameters, s.name))
    rows: list[tuple[ModelSpec, FormatOption]] = []
    no_fit: list[str] = []
    for spec in specs:
        options = [o for o in best_format(spec, engine, settings, budget, chosen) if o.fit.fits]
        rows.extend((spec, o) for o in options)
        if not options:
            no_fit.append(spec.name)
    elapsed = time.perf_counter() - started
    return CatalogFit(budget, settings, engine, chosen, tuple(rows), tuple(no_fit), len(specs), elapsed)


__all__ = ["CatalogFit", "catalog_fit"]
