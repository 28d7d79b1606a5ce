#!/usr/bin/env bash
# Run the GPU suite in one go on a CUDA machine with no network, and leave the records in OUT_DIR.
#
#   bash verify/gpu/run_suite.sh [--dry-run] [--wheels DIR] [--suite FILE] [--timeout S] [--budget S]
#                                OUT_DIR [-- more arguments for `python -m verify suite`]
#
# 1. installs the carried wheels (bitsandbytes, hqq, ...: `python -m verify wheels .whl` made them
#    where PyPI is reachable) into a private folder put first on PYTHONPATH; default folder: the
#    first of .whl/, shared/wheels/, wheels/ in the repository that holds *.whl;
# 2. checks the GPU (nvidia-smi and `python -m verify env --device cuda`, which exits 3 without CUDA);
# 3. runs every configuration of the suite (default verify/suites/h100.json) in its own process,
#    with a per-run timeout and a total budget, continuing past failures;
# 4. leaves in OUT_DIR at most six files: suite.log, environment.json, records.jsonl, summary.json,
#    summary.md and runs.tar.gz (one JSON record and one log per run).
#
# --dry-run does all of it on a machine without CUDA: it installs the wheels the same way (into a
# temporary folder), skips the GPU check, and runs each configuration as a dry run (the planner's
# prediction, the full-size model on the meta device, a tiny look-alike built and run on the CPU).
# Exit status: 0 when the suite ran (whatever each run's status), 2 for bad arguments, 3 without a GPU.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PY=${PYTHON:-python3}
DRY=0
WHEELS=""
SUITE="$ROOT/verify/suites/h100.json"
EXTRA=()
OUT=""

usage() {
    sed -n '2,4p' "$0" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY=1; shift ;;
        --wheels) WHEELS=${2:?--wheels needs a folder}; shift 2 ;;
        --suite) SUITE=${2:?--suite needs a file}; shift 2 ;;
        --timeout) EXTRA+=(--timeout "${2:?--timeout needs seconds}"); shift 2 ;;
        --budget) EXTRA+=(--budget "${2:?--budget needs seconds}"); shift 2 ;;
        --) shift; EXTRA+=("$@"); break ;;
        -h|--help) usage ;;
        -*) echo "unknown option: $1" >&2; usage ;;
        *) [ -z "$OUT" ] || usage; OUT=$1; shift ;;
    esac
done
[ -n "$OUT" ] || usage
[ -f "$SUITE" ] || { echo "no suite file: $SUITE" >&2; exit 2; }

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/verify-suite.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

main() {
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 TRANSFORMERS_NO_ADVISORY_WARNINGS=1
export PYTORCH_NVML_BASED_CUDA_CHECK=1
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
cd "$ROOT"
MODE=""
if [ $DRY = 1 ]; then MODE=" (dry run)"; fi
echo "== verify suite $(basename "$SUITE")$MODE at $(date -u +%Y-%m-%dT%H:%M:%SZ)"

# 1. carried wheels
if [ -z "$WHEELS" ]; then
    for d in "$ROOT/.whl" "$ROOT/shared/wheels" "$ROOT/wheels"; do
        if compgen -G "$d/*.whl" >/dev/null; then WHEELS=$d; break; fi
    done
fi
if [ -n "$WHEELS" ]; then
    compgen -G "$WHEELS/*.whl" >/dev/null || { echo "no wheels in $WHEELS" >&2; exit 2; }
    SITE=${VERIFY_SITE:-$WORK/site}
    echo "== installing $(ls "$WHEELS"/*.whl | wc -l) wheel(s) from $WHEELS into $SITE"
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "$WHEELS"/*.whl
    export PYTHONPATH="$SITE:$PYTHONPATH"
else
    echo "== no carried wheels: using the packages installed here"
fi
"$PY" - <<'PYEOF'
import importlib.metadata as md
for name in ("torch", "transformers", "accelerate", "bitsandbytes", "hqq", "nvidia-ml-py"):
    try:
        print(f"   {name} {md.version(name)}")
    except md.PackageNotFoundError:
        print(f"   {name} (not installed)")
PYEOF

# 2. the GPU
if [ $DRY = 1 ]; then
    echo "== dry run: no GPU check; every configuration runs as a dry run"
    "$PY" -m verify env --device cpu > "$OUT/environment.json"
    EXTRA=(--dry-run "${EXTRA[@]}")
else
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv || true
    "$PY" -m verify env --device cuda > "$OUT/environment.json" || { echo "no usable CUDA GPU" >&2; exit 3; }
fi

# 3. the suite
status=0
"$PY" -m verify suite "$SUITE" --out "$WORK/out" --no-progress "${EXTRA[@]}" || status=$?

# 4. the results
for f in records.jsonl summary.json summary.md; do
    if [ -f "$WORK/out/$f" ]; then cp "$WORK/out/$f" "$OUT/"; fi
done
if [ -d "$WORK/out/runs" ]; then tar -czf "$OUT/runs.tar.gz" -C "$WORK/out" runs; fi
if [ -f "$OUT/summary.md" ]; then cat "$OUT/summary.md"; fi
echo "== done (exit $status): $(ls "$OUT" | tr '\n' ' ')"
return $status
}

set -o pipefail
main 2>&1 | tee -a "$OUT/suite.log"
