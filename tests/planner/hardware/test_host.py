"""Main memory from /proc/meminfo (KiB despite the "kB"), as unified-memory GPUs share it."""

from planner.hardware.host import parse_meminfo, read_host_memory
from tests.planner.hardware.fakes import FIXTURES


def test_dgx_spark_reading():
    """XuehaiPan/nvitop#208: MemTotal 127600748 kB, MemAvailable 118566368 kB on a DGX Spark."""
    memory = read_host_memory(FIXTURES / "dgx-spark")
    assert memory.total_bytes == 127600748 * 1024 == 130663165952
    assert memory.available_bytes == 118566368 * 1024


def test_unreadable_or_contradicting():
    assert parse_meminfo("") is None
    assert parse_meminfo("MemFree: 5 kB\n") is None
    assert parse_meminfo("MemTotal: 10 kB\nMemAvailable: 20 kB\n").available_bytes is None
    assert read_host_memory(FIXTURES / "nowhere") is None
