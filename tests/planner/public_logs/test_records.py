"""The public start-up logs: each record is cited and complete, and the planner stays within its stated error."""

import json
import re

import pytest

from planner.catalog import get_entry
from planner.engines.constants import constant
from planner.formats.registry import parse_format
from planner.hardware.gpus import find_gpu
from planner.public_logs.calibration import CALIBRATION_FILE, FITTED, TARGETS, calibrate, split_by_model
from planner.public_logs.records import ENGINES, LOGS_DIR, all_records, comparable, compare, load_records

PRINTED = {
    "weights_gib",
    "torch_peak_gib",
    "non_torch_gib",
    "kv_available_gib",
    "kv_tokens",
    "k_gib",
    "v_gib",
}
RECORDS = all_records()


def test_at_least_twenty_vllm_logs_across_versions_gpus_and_formats():
    v = load_records("vllm")
    assert len(v) >= 20
    assert len({r.engine_version for r in v}) >= 5
    assert len({r.gpu for r in v}) >= 4
    assert len({r.format for r in v}) >= 4


@pytest.mark.parametrize("record", RECORDS, ids=[r.id for r in RECORDS])
def test_record_is_cited_and_complete(record):
    assert re.match(r"https://", record.url)
    assert record.engine_version and record.lines
    assert set(record.printed) <= PRINTED
    find_gpu(record.gpu)
    get_entry(record.model)
    parse_format(record.format)
    # every printed figure appears in the quoted lines (no reconstructed numbers)
    text = " ".join(record.lines).replace(",", "")
    for key, value in record.printed.items():
        assert str(value) in text, (key, value)


@pytest.mark.parametrize("engine", ENGINES)
def test_excluded_logs_say_why(engine):
    data = json.loads((LOGS_DIR / f"{engine}.json").read_text(encoding="utf-8"))
    for row in data["excluded"]:
        assert row["url"].startswith("https://") and len(row["reason"]) > 20


def test_split_keeps_each_model_on_one_side():
    fit_half, held = split_by_model(load_records("vllm"))
    assert fit_half and held and not {r.model for r in fit_half} & {r.model for r in held}


STORED = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))


def test_calibration_file_is_fresh_and_constants_came_from_it():
    for engine in ENGINES:
        result = calibrate(engine)
        assert result["stated_error"] == STORED[engine]["stated_error"]
        assert result["held_out_accuracy"] == STORED[engine]["held_out_accuracy"]
    for name in FITTED:
        c = constant(name)
        stored = STORED["vllm"]["constants"][name]
        assert (c.value, c.low, c.high) == (stored["value"], stored["low"], stored["high"])


def test_held_out_targets_of_issue_15_are_met():
    targets = STORED["vllm"]["targets"]
    assert set(targets) == set(TARGETS)
    assert all(t["met"] for t in targets.values()), targets


@pytest.mark.parametrize("record", RECORDS, ids=[r.id for r in RECORDS])
def test_record_within_stated_error(record):
    stated = STORED[record.engine]["stated_error"]
    cmps = compare(record)
    assert {c.component for c in cmps} == set(comparable(record))
    for c in cmps:
        assert abs(c.error) <= stated[c.component] + 1e-9, (c.component, c.printed, c.predicted)
