"""Measure how far the generic Llama-style estimate is from transformers, over its causal-LM zoo.

For every ``model_type`` in transformers' causal-LM table, its default config (what
``AutoConfig.for_model(type)`` gives) is counted twice: by the planner's generic reader
(:func:`planner.model.architectures.llama.build_generic`, the fallback for an unknown
architecture) and by transformers' own modeling code on the meta device. The relative
errors' median and 90th percentile become the "typical error" the app and the CLI print
next to an approximate figure (``data/generic_error.json``, read by
:func:`planner.report.approximate_warning`).

Run: ``python -m scripts.generic_error [--write]`` (prints the table; ``--write`` updates the data file).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "data" / "generic_error.json"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write {OUT.relative_to(ROOT)}")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import transformers
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    from planner.errors import PlannerError
    from planner.model.architectures.llama import build_generic
    from planner.model.config import ConfigView
    from verify.meta_count import meta_model, model_tensors

    rows: list[dict] = []
    for model_type in sorted(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES):
        start = time.perf_counter()
        try:
            config = AutoConfig.for_model(model_type).to_dict()
            config["model_type"] = model_type
            from transformers import AutoModelForCausalLM

            reference = sum(
                t.numel() for t in model_tensors(meta_model(config, AutoModelForCausalLM)).values()
            )
        except Exception as exc:  # transformers cannot build its own default: not part of the zoo
            rows.append({"type": model_type, "skipped": f"transformers: {type(exc).__name__}"})
            continue
        text = config.get("text_config") if isinstance(config.get("text_config"), dict) else config
        try:
            generic = build_generic(ConfigView(text, model_type), model_type).total_parameters
        except PlannerError as exc:
            rows.append({"type": model_type, "reference": reference, "refused": str(exc)[:120]})
            continue
        error = (generic - reference) / reference if reference else 0.0
        rows.append(
            {"type": model_type, "reference": reference, "generic": generic, "error": round(error, 4)}
        )
        print(
            f"{model_type:<28} {reference:>16,} {generic:>16,} {error:+8.1%}  {time.perf_counter() - start:.1f}s"
        )
    errors = [abs(r["error"]) for r in rows if "error" in r]
    summary = {
        "about": "Relative error of the planner's generic Llama-style estimate (the fallback for an unknown "
        "architecture) against transformers' own parameter count on the meta device, for the default config of "
        "every model_type in transformers' causal-LM table. Written by scripts/generic_error.py.",
        "source": f"transformers {transformers.__version__} MODEL_FOR_CAUSAL_LM_MAPPING_NAMES, default configs, "
        "counted on the meta device (verify.meta_count)",
        "measured": len(errors),
        "refused": sum(1 for r in rows if "refused" in r),
        "skipped": sum(1 for r in rows if "skipped" in r),
        "median_abs_error": round(statistics.median(errors), 4),
        "p90_abs_error": round(_percentile(errors, 0.9), 4),
        "types": rows,
    }
    print(
        f"\n{summary['measured']} types measured ({summary['refused']} refused, {summary['skipped']} not buildable): "
        f"median |error| {summary['median_abs_error']:.1%}, 90th percentile {summary['p90_abs_error']:.1%}"
    )
    if args.write:
        OUT.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
