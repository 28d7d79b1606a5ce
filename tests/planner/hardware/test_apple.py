"""A Mac read through recorded sysctl and system_profiler outputs; Metal's default limit; clear failures."""

import pytest

from planner.hardware.apple import (
    BRAND_AND_MEMORY,
    DISPLAYS,
    METAL_RULE,
    WIRED_LIMIT,
    match_apple,
    metal_default_limit,
    parse_gpu_cores,
    read_apple,
)
from planner.hardware.gpus import load_gpus
from tests.planner.hardware.fakes import FakeRunner, failed, fixture

GiB, MiB = 1 << 30, 1 << 20


def mac(brand="Apple M3 Pro", memsize=36 * GiB, wired="0\n", displays=None):
    outputs = {
        BRAND_AND_MEMORY: f"{brand}\n{memsize}\n",
        DISPLAYS: displays or fixture("apple/m3_pro_displays.json"),
    }
    if wired is not None:
        outputs[WIRED_LIMIT] = wired
    return FakeRunner(outputs)


def test_the_default_rule_is_every_catalog_apple_row():
    """The catalog's Apple rows carry published recommendedMaxWorkingSetSize readings; the rule gives each."""
    rows = [g for g in load_gpus() if g.vendor == "apple"]
    assert len(rows) >= 30
    for gpu in rows:
        assert metal_default_limit(gpu.memory_bytes) == gpu.gpu_usable_bytes, gpu.id
    assert metal_default_limit(16 * GiB) / MiB == pytest.approx(10922.67, abs=0.01)  # M1 16 GB, logged
    assert metal_default_limit(64 * GiB) / MiB == 49152  # M1 Max 64 GB, logged


def test_a_mac_at_the_default_limit():
    run = mac()
    (device,), status = read_apple(run)
    assert status.devices == 1 and "Apple M3 Pro" in status.message
    assert (device.vendor, device.name, device.reader) == ("apple", "Apple M3 Pro", "sysctl")
    assert device.unified and device.total_bytes == 36 * GiB
    assert device.gpu_limit_bytes == 27 * GiB and device.gpu_limit_rule == METAL_RULE
    assert device.capacity_bytes == 27 * GiB  # the working-set limit, not the whole memory
    assert device.catalog.id == "m3-pro-36gb"
    assert ("GPU cores", "18") in device.details and (
        "iogpu.wired_limit_mb",
        "0 (macOS default)",
    ) in device.details
    assert any(n.startswith("approximate") for n in device.notes)
    assert run.calls == [BRAND_AND_MEMORY, WIRED_LIMIT, DISPLAYS]


def test_the_wired_limit_override_is_exact():
    """sudo sysctl iogpu.wired_limit_mb=122880 on a 128 GB Mac (ivanopcode/devnote-override-macos-metal-vram-cap)."""
    (device,), _ = read_apple(mac("Apple M1 Ultra", 128 * GiB, "122880\n", displays="{}"))
    assert device.gpu_limit_bytes == device.capacity_bytes == 120 * GiB
    assert device.gpu_limit_rule.startswith("iogpu.wired_limit_mb set by the user")
    assert device.catalog.id == "m1-ultra-128gb"
    assert not any(n.startswith("approximate") for n in device.notes)


def test_a_limit_above_the_memory_is_capped_and_flagged():
    (device,), _ = read_apple(mac("Apple M4", 16 * GiB, "20000\n"))
    assert device.gpu_limit_bytes == 16 * GiB
    assert any("no room left" in n for n in device.notes)


def test_gpu_cores_pick_between_catalog_rows():
    """The catalog's M3 Max rows name their GPU cores; a reading that disagrees matches none."""
    assert match_apple("Apple M3 Max", 36 * GiB, 30).id == "m3-max-30c-36gb"
    assert match_apple("Apple M3 Max", 48 * GiB, 40).id == "m3-max-40c-48gb"
    assert match_apple("Apple M3 Max", 48 * GiB, 30) is None  # no 30-core 48 GB M3 Max exists
    assert match_apple("Apple M9", 16 * GiB) is None


def test_older_macos_without_the_key_falls_back_to_the_default_with_a_note():
    run = mac(wired=None)  # sysctl: unknown oid -> the fake answers "not installed"; a real failure below
    run.outputs[WIRED_LIMIT] = failed(
        WIRED_LIMIT, "sysctl exited with status 1: sysctl: unknown oid 'iogpu.wired_limit_mb'"
    )
    (device,), _ = read_apple(run)
    assert device.gpu_limit_bytes == 27 * GiB
    assert any("unknown oid" in n and "macOS 13" in n for n in device.notes)


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (failed(BRAND_AND_MEMORY, "sysctl timed out after 5 s"), "timed out"),
        ("Apple M3 Pro\n", "unexpected"),
        ("Apple M3 Pro\nlots\n", "unexpected"),
        ("Intel(R) Core(TM) i9-9880H CPU @ 2.30GHz\n17179869184\n", "not an Apple silicon Mac"),
    ],
    ids=["timeout", "one line", "garbage", "Intel Mac"],
)
def test_failures_give_no_device_and_a_reason(answer, words):
    devices, status = read_apple(FakeRunner({BRAND_AND_MEMORY: answer}))
    assert devices == () and status.devices == 0 and words in status.message


def test_displays_json_garbage_is_ignored():
    assert parse_gpu_cores("not json") is None
    assert (
        parse_gpu_cores(
            '{"SPDisplaysDataType": [{"sppci_model": "AMD Radeon Pro 5500M", "sppci_cores": "24"}]}'
        )
        is None
    )
    assert parse_gpu_cores(fixture("apple/m3_pro_displays.json")) == 18
