"""Verify: what real GPUs held next to what the planner predicts, and (on a CUDA machine) a new run.

Every figure comes from :mod:`planner.measurements` (each stored record re-predicted by the
planner as it is now) and from the folder's ``calibration.json`` (the held-out error the README
states). The run button starts ``python -m verify suite`` in a subprocess: the page never imports
torch, so it stays usable on a hosted machine without one. The button appears only where the operator
turned runs on (``VRAM_PLANNER_ALLOW_RUNS=1``; read-only by default), and one run goes at a time.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from planner import PlannerError
from planner.hardware import read_live_gpus
from planner.hardware.units import GIB
from planner.measurements import COMPONENT_LABELS, MEASUREMENTS_DIR, accuracy, compare_runs, load_runs
from ui import verify_runner

SHOWN = ("weights", "kv_cache", "activations", "peak_allocated", "non_torch", "process_total")

st.title("Verify")
st.caption(
    "Real memory measured on a GPU with `python -m verify` (transformers, random weights built from each "
    "config), next to what the planner predicts today for the same model, format, context and batch. "
    "Error = (measured - predicted) / predicted; memory in GiB (2^30 bytes)."
)

try:
    runs = load_runs()
except PlannerError as exc:
    st.error(f"The stored measurements could not be read: {exc}")
    st.stop()

folders = sorted({r.folder for r in runs}, reverse=True)
if not folders:
    st.info("No measurements are stored yet (data/measurements/).")
    st.stop()
folder = st.selectbox("GPU run", folders, key="verify_run", bind="query-params")
runs = [r for r in runs if r.folder == folder]
first = next((r for r in runs if r.status == "ok"), runs[0])
pk = first.packages
st.markdown(
    f"**{first.gpu}** on {first.date}: driver {first.driver}, torch {pk.get('torch')}, transformers "
    f"{pk.get('transformers')}, bitsandbytes {pk.get('bitsandbytes')}, hqq {pk.get('hqq')}. "
    f"{len(runs)} configurations: {sum(r.status == 'ok' for r in runs)} ran, "
    f"{sum(r.status == 'oom' for r in runs)} ran out of memory, {sum(r.status == 'error' for r in runs)} failed."
)

comparisons = compare_runs(runs)
calibration_path = MEASUREMENTS_DIR / folder / "calibration.json"
held_out: set[str] = set()
if calibration_path.is_file():
    calibration = json.loads(calibration_path.read_text(encoding="utf-8"))
    held_out = set(calibration.get("held_out_runs", ()))
    st.subheader("Accuracy")
    st.caption(
        f"The transformers engine's empirical constants were fitted on {len(calibration['fit_runs'])} runs "
        f"({len(calibration['fit_models'])} models); the held-out columns use only the other "
        f"{len(held_out)} runs, whose models the fit never saw."
    )
held = accuracy([c for c in comparisons if c.run.id in held_out], SHOWN) if held_out else []
every = {row.component: row for row in accuracy(comparisons, SHOWN)}
rows = []
for row in held or every.values():
    a = every[row.component]
    rows.append(
        {
            "component": row.label,
            "held-out runs": row.runs if held else None,
            "held-out median |error| %": 100 * row.median_abs_rel if held else None,
            "held-out worst error %": 100 * row.worst_rel if held else None,
            "all runs": a.runs,
            "all: median |error| %": 100 * a.median_abs_rel,
            "all: worst error %": 100 * a.worst_rel,
            "worst run": a.worst_id,
        }
    )
st.dataframe(
    pd.DataFrame(rows),
    hide_index=True,
    column_config={
        c: st.column_config.NumberColumn(format="%.2f" if "median" in c else "%+.2f")
        for c in rows[0]
        if c.endswith("%")
    }
    if rows
    else None,
)

st.subheader("Every configuration")
table = []
for c in comparisons:
    r = c.run
    row = {
        "run": r.id,
        "model": r.model,
        "format": r.format,
        "context": r.context,
        "batch": r.batch,
        "status": r.status,
        "half": "held out" if r.id in held_out else ("fit" if held_out and r.status == "ok" else ""),
    }
    for key in SHOWN:
        e = c.error.get(key)
        label = COMPONENT_LABELS[key]
        row[f"{label}: measured GiB"] = e["measured"] / GIB if e else None
        row[f"{label}: predicted GiB"] = e["predicted"] / GIB if e else None
        row[f"{label}: error %"] = 100 * e["rel"] if e and e["rel"] is not None else None
    row["predicted fits"] = c.predicted_fits
    row["decode tok/s (measured)"] = r.measured.get("decode_tokens_per_s")
    table.append(row)
df = pd.DataFrame(table)
st.dataframe(
    df,
    hide_index=True,
    column_config={
        c: st.column_config.NumberColumn(format="%+.2f" if c.endswith("%") else "%.2f")
        for c in df.columns
        if c.endswith(("GiB", "%"))
    },
)
st.download_button(
    "Download this table (CSV)", df.to_csv(index=False).encode(), f"verify_{folder}.csv", "text/csv"
)
not_run = [r for r in runs if r.status not in ("ok", "oom")]
if not_run:
    with st.expander(f"{len(not_run)} configuration(s) that did not run to the end"):
        for r in not_run:
            st.markdown(f"- **{r.id}** ({r.status}): {r.reason or 'no reason recorded'}")
oom = [c for c in comparisons if c.run.status == "oom"]
notes = []
if oom:
    agreed = sum(c.predicted_fits is False for c in oom)
    notes.append(
        f"Out-of-memory runs check the planner's verdict: {agreed} of {len(oom)} were predicted not to fit."
    )
if any(r.measured.get("decode_tokens_per_s") and "decode_step_s" not in r.measured for r in runs):
    notes.append(
        "Decode speeds of these records average every step including the first, which loads the decode "
        "kernels; they are shown, not used (newer records keep each step and report the median)."
    )
if notes:
    st.caption(" ".join(notes))

st.subheader("Run the verifier here")
if not verify_runner.runs_allowed():
    st.info(
        "**Read-only mode:** this server does not start GPU runs from the page. The operator of a machine with "
        f"an NVIDIA GPU turns them on with the environment variable `{verify_runner.ALLOW_RUNS_ENV}=1` (one run at "
        "a time); from a shell: `python -m verify suite verify/suites/h100.json --out DIR`, then "
        "`python -m verify collect DIR`."
    )
    st.stop()
report = read_live_gpus()
if not report.available:
    st.info(
        f"**{report.reason}.** The verifier loads models on a CUDA GPU, so it runs only where the app runs on a "
        "machine with an NVIDIA GPU, torch, transformers and bitsandbytes (`pip install -r requirements-verify.txt`). "
        "There, this section starts `python -m verify suite` with a progress bar; from a shell: "
        "`python -m verify suite verify/suites/h100.json --out DIR`, then `python -m verify collect DIR`."
    )
    st.stop()

missing = verify_runner.missing_packages()
if missing:
    st.info(
        f"NVIDIA GPU detected, but this Python lacks {', '.join(missing)}: install the verifier's packages "
        "(`pip install -r requirements-verify.txt` next to a CUDA build of torch) to run it from here."
    )
    st.stop()

names = ", ".join(g.name or f"GPU {g.index}" for g in report.gpus)
st.markdown(
    f"Detected: **{names}**. Each configuration of `{verify_runner.SUITE.name}` runs in its own process; "
    "out-of-memory runs are recorded. Leaving the page stops the suite."
)
if st.button("Run the verifier suite", type="primary"):
    with verify_runner.run_slot() as mine:
        if not mine:
            st.warning(
                "A verifier run is already going on this machine (one at a time): try again when it ends."
            )
            st.stop()
        out = Path(tempfile.mkdtemp(prefix="verify-"))
        bar = st.progress(0.0, text="starting…")

        def show(p: verify_runner.Progress) -> None:
            bar.progress(p.done / p.total, text=f"{p.done}/{p.total}: {p.run_id} {p.status}")

        code, lines = verify_runner.run(verify_runner.suite_command(verify_runner.SUITE, out), show)
    if code == 0:
        bar.progress(1.0, text="done")
        st.success(f"Records in {out}. File them with `python -m verify collect {out}`.")
        summary = out / "summary.md"
        if summary.is_file():
            st.markdown(summary.read_text(encoding="utf-8"))
    else:
        st.error(f"The suite stopped with exit status {code}.")
        st.code("\n".join(lines[-20:]) or "(no output)")
