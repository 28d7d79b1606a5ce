"""File a GPU run's records under ``data/measurements/<date>_<gpu>/``, one JSON file per run.

The folder name comes from the records themselves (the first record's date and GPU),
so a suite's output can be committed as it came back from the GPU machine.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MEASUREMENTS = ROOT / "data" / "measurements"


def read_records(source: str | Path) -> list[dict[str, Any]]:
    """Records from a ``records.jsonl`` file, or from a suite output folder."""
    path = Path(source)
    if path.is_dir():
        path = path / "records.jsonl"
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            records.append(json.loads(line))
    return records


def slug(text: str) -> str:
    """Lower-case letters, digits and dashes."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown"


def folder_name(records: list[dict[str, Any]]) -> str:
    """``<YYYY-MM-DD>_<gpu>`` from the first record that ran on a GPU."""
    for r in records:
        env = r.get("environment") or {}
        gpu = env.get("gpu") or {}
        if gpu.get("name") and env.get("date"):
            return f"{env['date'][:10]}_{slug(gpu['name'])}"
    for r in records:
        env = r.get("environment") or {}
        if env.get("date"):
            return f"{env['date'][:10]}_{slug(env.get('device') or 'cpu')}"
    return "undated_unknown"


def collect(source: str | Path, dest: str | Path = MEASUREMENTS) -> Path:
    """Write each record as ``<dest>/<date>_<gpu>/<NN>_<id>.json``; returns the folder."""
    records = read_records(source)
    if not records:
        raise ValueError(f"no records in {source}")
    folder = Path(dest) / folder_name(records)
    folder.mkdir(parents=True, exist_ok=True)
    for i, r in enumerate(records):
        label = r.get("config", {}).get("id") or f"run-{i}"
        (folder / f"{i:02d}_{slug(label)}.json").write_text(json.dumps(r, indent=1) + "\n", encoding="utf-8")
    summary = Path(source) / "summary.md"
    if summary.is_file():
        (folder / "summary.md").write_text(summary.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


__all__ = ["MEASUREMENTS", "collect", "folder_name", "read_records", "slug"]
