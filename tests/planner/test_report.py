"""planner.report: where the tensors came from, and the approximate warning with its measured error."""

from __future__ import annotations

import json
import statistics

from planner.catalog import load_catalog
from planner.engines import estimate
from planner.formats import parse_format
from planner.report import GENERIC_ERROR_FILE, approximate_warning, generic_error, params_report

LLAMA = "meta-llama/Llama-3.1-8B"


def test_generic_error_summary_matches_its_measured_rows():
    raw = json.loads(GENERIC_ERROR_FILE.read_text())
    errors = sorted(abs(r["error"]) for r in raw["types"] if "error" in r)
    assert len(errors) == raw["measured"] == generic_error()["measured"]
    assert round(statistics.median(errors), 4) == raw["median_abs_error"]
    for row in raw["types"]:
        if "error" in row:
            assert row["error"] == round((row["generic"] - row["reference"]) / row["reference"], 4)


def test_generic_error_rows_are_transformers_counts():
    """Spot-check the recorded reference against transformers' own default config, counted on the meta device."""
    from transformers import AutoConfig

    from verify.meta_count import transformers_parameter_count

    rows = {r["type"]: r for r in json.loads(GENERIC_ERROR_FILE.read_text())["types"]}
    for model_type in ("llama", "gpt_neox"):
        config = AutoConfig.for_model(model_type).to_dict() | {"model_type": model_type}
        assert rows[model_type]["reference"] == transformers_parameter_count(config)


def test_catalog_models_are_exact_and_say_their_source():
    spec = load_catalog()[LLAMA].spec()
    report = params_report(spec)
    assert report["inventory"] == {
        "source": "hand-written builder",
        "detail": "",
        "approximate": False,
        "warning": None,
    }
    assert approximate_warning(spec) is None
    data = estimate(spec, parse_format("q4_k_m")).to_dict()
    assert data["explain"]["inventory"]["source"] == "hand-written builder"
