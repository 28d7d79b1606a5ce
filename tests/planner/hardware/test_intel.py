"""Intel GPUs from recorded xpu-smi output (intel/xpumanager#127) and its failure modes."""

import json

import pytest

from planner.hardware.intel import DISCOVERY, read_intel
from tests.planner.hardware.fakes import FakeRunner, failed, fixture


def test_discovery_with_memory_fields():
    run = FakeRunner({DISCOVERY: fixture("xpu-smi/discovery_bmg.json")})
    (gpu,), status = read_intel(run)
    assert status.reader == "xpu-smi" and status.devices == 1
    assert (gpu.vendor, gpu.index, gpu.name) == ("intel", 0, "Intel(R) Graphics [0xe211]")
    assert (gpu.total_bytes, gpu.free_bytes) == (25669140480, 25447600128)
    assert gpu.used_bytes == 25669140480 - 25447600128 and gpu.capacity_bytes == 25447600128
    assert gpu.catalog is None  # a generic name the catalog cannot tie to one card
    assert ("drm_device", "/dev/dri/card0") in gpu.details
    assert run.calls == [DISCOVERY]


def test_a_short_listing_asks_for_the_device_properties():
    row = json.loads(fixture("xpu-smi/discovery_bmg.json"))["device_list"][0]
    listing = {
        "device_list": [{k: row[k] for k in ("device_id", "device_name", "device_type", "drm_device")}]
    }
    detail = ("xpu-smi", "discovery", "-d", "0", "-j")
    run = FakeRunner({DISCOVERY: json.dumps(listing), detail: json.dumps(row)})
    (gpu,), _ = read_intel(run)
    assert gpu.total_bytes == 25669140480
    assert run.calls == [DISCOVERY, detail]


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (
            failed(DISCOVERY, "xpu-smi exited with status 1: Error: Level Zero initialization failed"),
            "Level Zero",
        ),
        (failed(DISCOVERY, "xpu-smi timed out after 10 s"), "timed out"),
        ("not json", "unexpected"),
        ('{"error": "no device"}', "unexpected"),
        ('{"device_list": []}', "lists no device"),
    ],
)
def test_failures_are_messages(answer, words):
    devices, status = read_intel(FakeRunner({DISCOVERY: answer}))
    assert devices == () and words in status.message


def test_free_above_total_is_refused():
    listing = {"device_list": [{"device_id": 0, "device_name": "Intel(R) Arc(TM) B580 Graphics",
                                "memory_physical_size_byte": "100", "memory_free_size_byte": "200"}]}  # fmt: skip
    (gpu,), _ = read_intel(FakeRunner({DISCOVERY: json.dumps(listing)}))
    assert gpu.total_bytes is gpu.free_bytes is None and "refused" in gpu.notes[0]


def test_not_installed():
    devices, status = read_intel(FakeRunner())
    assert devices == () and status.message == "xpu-smi is not installed"
