"""Transcribe the Open LLM Leaderboard's MMLU-Pro (v2) and MMLU (v1) columns into ``data/quality/leaderboard.json``.

The leaderboard's own data lives in the Hub dataset ``open-llm-leaderboard/contents`` (unreachable
here); ``fboulnois/llm-leaderboard-csv`` publishes it as CSV, one row per evaluated (model,
precision, revision). This script reads those CSVs from paths given on the command line (they are
not part of this repository) and writes one entry per model:

* v2 ``evaluations_mmlu_pro_value`` is the raw 10-choice accuracy (the leaderboard *page* shows a
  normalised score, ``(raw - 0.1) / 0.9``; both are kept, the raw one is used, being comparable with
  publishers' accuracies);
* v1 ``mmlu`` is the 5-shot MMLU accuracy in percent, from 16-bit runs only (v1 also lists 8-bit,
  4-bit and GPTQ runs of some models, which would measure a quantized model).

Kept: v2 rows flagged ``features_is_official_provider`` (the publisher's own checkpoints), plus any
id passed with ``--also`` (catalog or planned models). Where a model has runs in several
precisions, the row in the checkpoint's own dtype (``--dtypes`` JSON, e.g. from the catalog
configs) wins, else bfloat16, else float16.

Run: ``python scripts/quality/transcribe_leaderboard.py V2.csv V1.csv --commit SHA [--also ids.txt]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "data" / "quality" / "leaderboard.json"
PREFERENCE = ("bfloat16", "float16")
SIXTEEN_BIT = {"bfloat16", "float16", "torch.bfloat16", "torch.float16"}


def _pick(rows: list[dict[str, str]], precision_key: str, dtype: str | None) -> dict[str, str]:
    order = ([dtype] if dtype else []) + list(PREFERENCE)
    for want in order:
        for row in rows:
            if row[precision_key].replace("torch.", "") == want:
                return row
    return rows[0]


def transcribe(v2_path: Path, v1_path: Path, commit: str, also: set[str], dtypes: dict[str, str]) -> dict:
    v2: dict[str, list[dict[str, str]]] = {}
    with v2_path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            v2.setdefault(row["model_name"], []).append(row)
    v1: dict[str, list[dict[str, str]]] = {}
    with v1_path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["precision"] in SIXTEEN_BIT and row["mmlu"]:
                v1.setdefault(row["fullname"], []).append(row)
    lower_also = {a.lower() for a in also}
    wanted = {
        name
        for name, rows in v2.items()
        if name.lower() in lower_also or any(r["features_is_official_provider"] == "TRUE" for r in rows)
    }
    wanted |= {name for name in v1 if name.lower() in lower_also}
    models = {}
    for name in sorted(wanted, key=str.lower):
        entry: dict[str, object] = {}
        dtype = dtypes.get(name)
        if name in v2:
            row = _pick(v2[name], "model_precision", dtype)
            entry["mmlu_pro"] = {
                "value": round(100 * float(row["evaluations_mmlu_pro_value"]), 2),
                "normalized": round(float(row["evaluations_mmlu_pro_normalized_score"]), 2),
                "precision": row["model_precision"],
                "revision": row["model_sha"],
                "row": row["id"],
            }
        if name in v1:
            row = _pick(v1[name], "precision", dtype)
            entry["mmlu_5shot"] = {
                "value": round(float(row["mmlu"]), 2),
                "precision": row["precision"],
                "revision": row["model_sha"],
                "row": f"{row['fullname']} ({row['precision']})",
            }
        if entry:
            models[name] = entry
    base = "https://github.com/fboulnois/llm-leaderboard-csv/blob"
    return {
        "about": (
            "Open LLM Leaderboard scores transcribed by scripts/quality/transcribe_leaderboard.py: v2 MMLU-Pro "
            "(5-shot, lm-evaluation-harness, log-likelihood of the answer letter; raw 10-choice accuracy in "
            "percent, the page's normalised score kept as 'normalized') and v1 MMLU (5-shot, 16-bit runs). "
            "Keyed by Hugging Face id; 'row' names the CSV row."
        ),
        "sources": {
            "v2": {
                "title": "Open LLM Leaderboard v2 (Hugging Face), MMLU-PRO column",
                "url": "https://huggingface.co/spaces/open-llm-leaderboard/open_llm_leaderboard",
                "data": "https://huggingface.co/datasets/open-llm-leaderboard/contents",
                "transcribed_from": f"{base}/{commit}/csv/huggingface_v2.csv",
                "normalisation": "normalized = (raw - 10) / 0.9 in percent (10 choices); the CSV holds both",
            },
            "v1": {
                "title": "Open LLM Leaderboard v1 (Hugging Face, archived), MMLU (5-shot) column",
                "url": "https://huggingface.co/spaces/open-llm-leaderboard-old/open_llm_leaderboard",
                "transcribed_from": f"{base}/{commit}/csv/huggingface_v1.csv",
            },
        },
        "models": models,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("v2", type=Path)
    parser.add_argument("v1", type=Path)
    parser.add_argument("--commit", required=True, help="the CSV repository's commit the files come from")
    parser.add_argument("--also", type=Path, help="a file of extra Hugging Face ids to keep, one per line")
    parser.add_argument("--dtypes", type=Path, help="JSON {hub id: torch_dtype} to choose among precisions")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    also = set(args.also.read_text(encoding="utf-8").split()) if args.also else set()
    dtypes = json.loads(args.dtypes.read_text(encoding="utf-8")) if args.dtypes else {}
    data = transcribe(args.v2, args.v1, args.commit, also, dtypes)
    args.out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(data['models'])} models written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
