"""Whatever a tool prints (garbage, odd JSON shapes, huge numbers), the readers answer without raising."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from planner.hardware.amd import AMD_SMI_METRIC, AMD_SMI_STATIC, ROCM_SMI, read_amd_smi, read_rocm_smi
from planner.hardware.apple import BRAND_AND_MEMORY, DISPLAYS, WIRED_LIMIT, read_apple
from planner.hardware.host import HostMemory, parse_meminfo
from planner.hardware.intel import DISCOVERY, read_intel
from tests.planner.hardware.fakes import FakeRunner

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=30), inner, max_size=5),
    max_leaves=25,
)
KEYS = st.sampled_from(
    ["card0", "card1", "gpu", "gpu_data", "mem_usage", "total_vram", "used_vram", "total_gtt", "value", "unit",
     "VRAM Total Memory (B)", "VRAM Total Used Memory (B)", "GTT Total Memory (B)", "Card Series", "device_list",
     "device_id", "device_name", "memory_physical_size_byte", "memory_free_size_byte", "asic", "market_name"]
)  # fmt: skip
SHAPED = st.recursive(
    st.none() | st.integers(-(2**70), 2**70) | st.text(max_size=12) | st.sampled_from(["N/A", "MB", "12345"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=30,
)
OUTPUT = st.one_of(st.text(max_size=300), JSON.map(json.dumps), SHAPED.map(json.dumps))
HOST = HostMemory(64 << 30, 32 << 30, "test")


@settings(max_examples=300, deadline=None)
@given(OUTPUT, OUTPUT)
def test_amd_tools(first, second):
    for devices, status in (
        read_rocm_smi(FakeRunner({ROCM_SMI: first}), HOST),
        read_amd_smi(FakeRunner({AMD_SMI_METRIC: first, AMD_SMI_STATIC: second}), HOST),
    ):
        assert status.devices == len(devices)
        for d in devices:
            assert d.capacity_bytes is None or d.capacity_bytes >= 0


@settings(max_examples=300, deadline=None)
@given(OUTPUT, OUTPUT)
def test_intel_and_apple(first, second):
    devices, status = read_intel(
        FakeRunner({DISCOVERY: first, ("xpu-smi", "discovery", "-d", "0", "-j"): second})
    )
    assert status.devices == len(devices)
    devices, status = read_apple(FakeRunner({BRAND_AND_MEMORY: first, WIRED_LIMIT: second, DISPLAYS: second}))
    assert status.devices == len(devices) <= 1


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_meminfo(text):
    memory = parse_meminfo(text)
    assert memory is None or (memory.available_bytes or 0) <= memory.total_bytes
