"""The JSON record: the planner's figures beside the measurement, error per component, the verdict."""

import pytest

from planner.catalog import load_catalog
from planner.engines import estimate
from planner.formats import parse_format
from planner.memory.estimate import RunSettings
from verify.record import Record, compare, predicted_dict, verdict

GIB = 1 << 30


def gemma_estimate():
    spec = load_catalog()["google/gemma-3-4b-it"].spec()
    return estimate(spec, parse_format("bnb-nf4"), "transformers", RunSettings(context=32768, batch=1))


def test_predicted_figures_are_the_planners_own():
    est = gemma_estimate()
    p = predicted_dict(est)
    memory = est.to_dict()["memory"]
    for key in ("weights", "kv_cache", "activations", "overhead", "total", "total_low", "total_high"):
        assert p[key] == memory[key]
    workspace = est.overhead.parts["cublas_and_kernels"]  # cuBLAS workspaces live in torch's allocator
    assert p["peak_allocated"] == est.weights.bytes + est.kv_cache.bytes + est.activations.bytes + workspace
    retention = est.activations.parts["sliding_prefill_retention"]
    assert retention > 0 and p["kv_cache_storage"] == est.kv_cache.bytes + retention
    assert p["cuda_context"] == est.overhead.parts["cuda_context"]


def test_compare_gives_absolute_and_relative_error():
    err = compare(
        {"weights": 110, "kv_cache": 50, "process_total": 1000, "peak_allocated": None},
        {"weights": 100, "kv_cache": 50, "total": 800, "peak_allocated": 7},
    )
    assert err["weights"] == {"measured": 110, "predicted": 100, "abs": 10, "rel": 0.1}
    assert err["kv_cache"]["abs"] == 0
    assert err["process_total"] == {"measured": 1000, "predicted": 800, "abs": 200, "rel": 0.25}
    assert "peak_allocated" not in err  # not measured


@pytest.mark.parametrize(
    ("status", "total", "fits", "agrees"),
    [
        ("ok", 70 * GIB, True, True),
        ("oom", 120 * GIB, False, True),  # "does not fit", and it did not
        ("oom", 70 * GIB, True, False),  # the planner said it fits, it did not
        ("skipped", 70 * GIB, True, None),
    ],
)
def test_verdict(status, total, fits, agrees):
    v = verdict(status, {"total": total}, 80 * GIB)
    assert v["predicted_fits"] is fits and v["agrees"] is agrees


def test_record_contract():
    est = gemma_estimate()
    record = Record(
        {"model": "google/gemma-3-4b-it"},
        "ok",
        predicted=predicted_dict(est),
        measured={"weights": est.weights.bytes + 512},
        environment={"gpu": {"usable_bytes": 80 * GIB}},
    ).to_dict()
    assert {"config", "environment", "measured", "predicted", "error", "status"} <= set(record)
    assert {"weights", "kv_cache", "activations", "overhead", "total"} <= set(record["predicted"])
    assert record["error"]["weights"]["abs"] == 512
    assert record["verdict"]["predicted_fits"] is True
    with pytest.raises(ValueError, match="status"):
        Record({}, "fine")
