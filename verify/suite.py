"""A suite: a list of configurations, each run in its own subprocess, with a progress bar.

A fresh process per configuration gives each run a clean CUDA context and caching
allocator (and frees both when it ends). A run that crashes or times out becomes an
``error`` record with the planner's prediction; the suite goes on. A time budget stops
launching runs that cannot finish in time (they are recorded as skipped).

Output folder: ``runs/<NN>_<id>.json`` and ``.log`` per run, ``records.jsonl`` (every
record, one per line), ``summary.json`` and ``summary.md``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from planner.hardware.units import MIB
from verify.config import ConfigError, RunConfig
from verify.record import Record

ROOT = Path(__file__).resolve().parent.parent
SUITES_DIR = Path(__file__).resolve().parent / "suites"
_SUITE_KEYS = {"name", "description", "timeout_s", "budget_s", "defaults", "runs"}


@dataclass(frozen=True, slots=True)
class Suite:
    """Named configurations with a per-run timeout and a total time budget (seconds)."""

    name: str
    description: str
    runs: tuple[RunConfig, ...]
    timeout_s: int = 150
    budget_s: int | None = None


def parse_suite(data: Mapping[str, Any]) -> Suite:
    """A suite from its JSON form; every entry is checked as a :class:`RunConfig`."""
    unknown = sorted(set(data) - _SUITE_KEYS)
    if unknown:
        raise ConfigError(f"unknown suite key(s): {', '.join(unknown)}")
    defaults = dict(data.get("defaults") or {})
    runs = []
    for i, entry in enumerate(data.get("runs") or ()):
        if not isinstance(entry, Mapping):
            raise ConfigError(f"run {i} must be an object")
        try:
            runs.append(RunConfig.from_dict({**defaults, **entry}))
        except ConfigError as exc:
            raise ConfigError(f"run {i} ({entry.get('id', '?')}): {exc}") from None
    if not runs:
        raise ConfigError("a suite needs at least one run")
    labels = [r.label for r in runs]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise ConfigError(f"run ids must be unique: {', '.join(dupes)}")
    return Suite(
        name=str(data.get("name", "suite")),
        description=str(data.get("description", "")),
        runs=tuple(runs),
        timeout_s=int(data.get("timeout_s", 150)),
        budget_s=int(data["budget_s"]) if data.get("budget_s") is not None else None,
    )


def load_suite(path: str | Path) -> Suite:
    """Read and check a suite file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read suite {path}: {exc}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: a suite file holds a JSON object")
    return parse_suite(data)


def select(suite: Suite, only: str | None) -> Suite:
    """The runs whose id (or 0-based index) is in the comma-separated ``only``."""
    if not only:
        return suite
    wanted = [w.strip() for w in only.split(",") if w.strip()]
    picked = [r for i, r in enumerate(suite.runs) if r.label in wanted or str(i) in wanted]
    missing = sorted(set(wanted) - {r.label for r in picked} - {str(i) for i in range(len(suite.runs))})
    if missing:
        raise ConfigError(f"no run with id {', '.join(missing)} in suite {suite.name}")
    return replace(suite, runs=tuple(picked))


def _fallback_record(config: RunConfig, status: str, reason: str) -> dict[str, Any]:
    """A record the parent writes when the child left none (crash, timeout, budget)."""
    predicted: dict[str, Any] = {}
    try:
        from verify.run import predict
        from verify.source import resolve

        predicted, _ = predict(config, resolve(config.model))
    except Exception:  # the prediction is a courtesy here; the reason says what happened
        predicted = {}
    return Record(config.to_dict(), status, predicted=predicted, reason=reason).to_dict()


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    # NOTE: torch.cuda.is_available() then asks NVML, not the CUDA runtime: no context before the baseline.
    env.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    return env


def run_one(
    config: RunConfig, record_path: Path, log_path: Path, timeout_s: float, dry_run: bool, python: str
) -> dict[str, Any]:
    """Run ``config`` in a subprocess; its record, or an error record when it left none."""
    cmd = [python, "-m", "verify", "run", *config.to_argv(), "--out", str(record_path), "--quiet"]
    if dry_run:
        cmd.append("--dry-run")
    record_path.unlink(missing_ok=True)
    with log_path.open("w", encoding="utf-8") as log:
        log.write(" ".join(cmd) + "\n")
        log.flush()
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=_child_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            code = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            # NOTE: the child leads its own process group: kill it and anything it started.
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return _fallback_record(config, "error", f"timed out after {timeout_s:g} s (killed)")
        except BaseException:
            # The suite itself is stopping (SIGTERM, Ctrl-C): leave no run holding GPU memory.
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
    if record_path.is_file():
        try:
            return json.loads(record_path.read_text(encoding="utf-8"))
        except ValueError:
            pass
    tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
    return _fallback_record(config, "error", f"exit code {code} and no record; log: {' | '.join(tail)[:600]}")


def _progress(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm ships with transformers
        return None
    return tqdm(total=total, unit="run", file=sys.stderr, dynamic_ncols=True)


def run_suite(
    suite: Suite,
    out_dir: str | Path,
    *,
    dry_run: bool = False,
    device: str | None = None,
    timeout_s: float | None = None,
    budget_s: float | None = None,
    progress: bool = True,
    python: str = sys.executable,
    runner: Callable[..., dict[str, Any]] = run_one,
) -> list[dict[str, Any]]:
    """Run every configuration of ``suite`` and write the records under ``out_dir``."""
    out = Path(out_dir)
    runs_dir = out / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    timeout = timeout_s or suite.timeout_s
    budget = budget_s if budget_s is not None else suite.budget_s
    start = time.monotonic()
    records: list[dict[str, Any]] = []
    bar = _progress(len(suite.runs), progress)
    counts: dict[str, int] = {}
    for i, config in enumerate(suite.runs):
        if device:
            config = replace(config, device=device)
        stem = f"{i:02d}_{config.label}"
        left = None if budget is None else budget - (time.monotonic() - start)
        if left is not None and left < min(timeout, 30):
            record = _fallback_record(config, "skipped", f"suite time budget ({budget:g} s) spent")
        else:
            limit = timeout if left is None else min(timeout, left)
            record = runner(
                config, runs_dir / f"{stem}.json", runs_dir / f"{stem}.log", limit, dry_run, python
            )
        (runs_dir / f"{stem}.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        records.append(record)
        counts[record["status"]] = counts.get(record["status"], 0) + 1
        if bar is not None:
            bar.set_postfix_str(f"{config.label}: {record['status']}", refresh=False)
            bar.update(1)
        else:
            elapsed = time.monotonic() - start
            line = f"[{i + 1}/{len(suite.runs)} {elapsed:5.0f}s] {config.label}: {record['status']}"
            reason = record.get("reason") if record["status"] != "ok" else None
            print(line + (f" ({reason[:160]})" if reason else ""), file=sys.stderr, flush=True)
    if bar is not None:
        bar.close()
    write_outputs(suite, records, out, time.monotonic() - start, dry_run)
    return records


def _mib(value: Any) -> str:
    return f"{value / MIB:,.0f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "-"


def _cell(record: Mapping[str, Any], key: str) -> str:
    err = record.get("error", {}).get(key)
    if not err:
        predicted = record.get("predicted", {}).get("total" if key == "process_total" else key)
        return _mib(record.get("measured", {}).get(key)) + " / " + _mib(predicted)
    rel = f" ({err['rel']:+.1%})" if err.get("rel") is not None else ""
    return f"{_mib(err['measured'])} / {_mib(err['predicted'])}{rel}"


def summary_markdown(suite: Suite, records: list[dict[str, Any]], seconds: float) -> str:
    """A table of every run: measured / predicted MiB (relative error) per component."""
    lines = [
        f"# Suite {suite.name}",
        "",
        suite.description,
        "",
        f"{len(records)} runs in {seconds:.0f} s. Cells: measured / predicted MiB (relative error).",
        "",
        "| id | model | format | ctx | batch | status | weights | KV cache | peak allocated | process total | decode tok/s |",
        "| --- | --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in records:
        c = r["config"]
        tps = r.get("measured", {}).get("decode_tokens_per_s")
        status = r["status"] + (f": {r['reason'][:80]}" if r.get("reason") and r["status"] != "ok" else "")
        tiny = (r.get("dry_run") or {}).get("tiny") or {}
        if tiny.get("error"):
            checks = ", ".join(f"{k} {v['abs']:+,} B" for k, v in tiny["error"].items())
            status += f" (tiny CPU check: {checks})"
        lines.append(
            f"| {c.get('id') or '-'} | {c['model']} | {c['format']} | {c['context']} | {c['batch']} | {status} | "
            f"{_cell(r, 'weights')} | {_cell(r, 'kv_cache')} | {_cell(r, 'peak_allocated')} | "
            f"{_cell(r, 'process_total')} | {tps if tps is not None else '-'} |"
        )
    return "\n".join(lines) + "\n"


def write_outputs(
    suite: Suite, records: list[dict[str, Any]], out: Path, seconds: float, dry_run: bool
) -> None:
    """``records.jsonl``, ``summary.json`` and ``summary.md`` in ``out``."""
    with (out / "records.jsonl").open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, separators=(",", ":")) + "\n")
    statuses: dict[str, int] = {}
    for r in records:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    summary = {
        "suite": suite.name,
        "dry_run": dry_run,
        "seconds": round(seconds, 1),
        "statuses": statuses,
        "runs": [
            {
                "id": r["config"].get("id"),
                "status": r["status"],
                "reason": r.get("reason"),
                "error": r.get("error", {}),
            }
            for r in records
        ],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    (out / "summary.md").write_text(summary_markdown(suite, records, seconds), encoding="utf-8")


__all__ = [
    "SUITES_DIR",
    "Suite",
    "load_suite",
    "parse_suite",
    "run_one",
    "run_suite",
    "select",
    "summary_markdown",
]
