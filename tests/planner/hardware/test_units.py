"""Sizes: exact bytes for binary and decimal units, refusals, and display helpers."""

import re
from pathlib import Path

import pytest

from planner.errors import PlannerError
from planner.hardware.errors import SizeError
from planner.hardware.units import (
    GIB,
    MAX_SIZE_BYTES,
    MIB,
    format_bandwidth,
    format_gb,
    format_gib,
    format_short,
    format_size,
    parse_size,
    to_gib,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24GiB", 24 * 2**30),
        ("24 GiB", 25_769_803_776),
        ("24gib", 24 * 2**30),
        ("24GB", 24 * 10**9),
        ("24 GB", 24_000_000_000),
        ("24gb", 24 * 10**9),
        ("25769803776", 25_769_803_776),
        ("  25769803776  ", 25_769_803_776),
        ("0", 0),
        ("512MiB", 512 * 2**20),
        ("512 MB", 512 * 10**6),
        ("1.5GiB", 1_610_612_736),
        ("2.5 GB", 2_500_000_000),
        ("0.5TiB", 2**39),
        ("1 TB", 10**12),
        ("4KiB", 4096),
        ("4 kB", 4000),
        ("100B", 100),
        ("100 b", 100),
        (".5 KiB", 512),
        ("+8GiB", 8 * 2**30),
    ],
)
def test_parse_size_exact(text, expected):
    assert parse_size(text) == expected


def test_parse_size_int_passthrough():
    assert parse_size(25_769_803_776) == 24 * GIB
    assert parse_size(0) == 0


def test_gib_and_gb_differ_by_the_exact_ratio():
    assert parse_size("24GiB") - parse_size("24GB") == 1_769_803_776


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "GiB",
        "abc",
        "24 GiB RAM",
        "24,5GB",
        "1e9",
        "24 gigs",
        "24XB",
        "0x10",
        "--5GB",
        "24 G B",
    ],
)
def test_parse_size_rejects_garbage(text):
    with pytest.raises(SizeError):
        parse_size(text)


@pytest.mark.parametrize("text", ["-1", "-24GiB", "-0.5 GB"])
def test_parse_size_rejects_negative(text):
    with pytest.raises(SizeError, match="negative"):
        parse_size(text)


def test_parse_size_rejects_negative_int():
    with pytest.raises(SizeError, match="negative"):
        parse_size(-1)


@pytest.mark.parametrize("text", ["24g", "24G", "512m", "1t", "24Gi", "8k"])
def test_parse_size_refuses_ambiguous_single_letter_units(text):
    with pytest.raises(SizeError, match="ambiguous"):
        parse_size(text)


@pytest.mark.parametrize("value", ["2PiB", "1.2 PB", "99999999 TB", MAX_SIZE_BYTES + 1])
def test_parse_size_rejects_absurd(value):
    with pytest.raises(SizeError, match="1 PiB"):
        parse_size(value)


def test_parse_size_accepts_the_limit():
    assert parse_size("1PiB") == MAX_SIZE_BYTES


@pytest.mark.parametrize("text", ["0.1KiB", "1.5 B", "0.0000000001 GB"])
def test_parse_size_rejects_fractions_of_a_byte(text):
    with pytest.raises(SizeError, match="whole number"):
        parse_size(text)


@pytest.mark.parametrize("value", [True, 1.5, None, [24]])
def test_parse_size_rejects_other_types(value):
    with pytest.raises(SizeError):
        parse_size(value)


def test_size_error_is_a_planner_error():
    assert issubclass(SizeError, PlannerError)


def test_formatting():
    assert format_gib(24 * GIB) == "24.00 GiB"
    assert format_gib(24564 * 2**20) == "23.99 GiB"
    assert format_gib(GIB + GIB // 2, digits=1) == "1.5 GiB"
    assert format_gb(24 * 10**9) == "24.00 GB"
    assert format_size(512 * 2**20) == "512.00 MiB"
    assert format_size(3 * GIB) == "3.00 GiB"
    assert format_size(2 * 2**40) == "2.00 TiB"
    assert format_size(100) == "100 B"
    assert format_size(-2048) == "-2.00 KiB"
    assert format_bandwidth(1008 * 10**9) == "1008 GB/s"
    assert format_bandwidth(68_256_000_000) == "68 GB/s"
    assert format_bandwidth(8 * 10**12) == "8000 GB/s"
    assert format_bandwidth(16 * 10**12) == "16.0 TB/s"


def test_round_trip_of_the_catalog_nominal_sizes():
    for gib in (6, 8, 11, 12, 16, 20, 24, 32, 48, 80, 96, 141, 192):
        assert parse_size(format_gib(gib * GIB).replace(".00", "")) == gib * GIB


def test_short_format_of_derivation_rules():
    # whole MiB drop their decimals; GiB keep two; under 1 MiB the exact byte count
    assert format_short(4 * GIB) == "4.00 GiB"
    assert format_short(512 * MIB) == "512 MiB"
    assert format_short(3 * MIB // 2) == "1.50 MiB"
    assert format_short(1024) == "1,024 B"
    assert format_short(GIB - 1) == "1024 MiB"  # 1023.999... rounds to 1024.00, then loses ".00"


def test_to_gib_for_tables():
    assert to_gib(3 * GIB // 2) == 1.5
    assert to_gib(None) is None


# the one units module: nothing else defines GiB/MiB or a bytes formatter
ROOT = Path(__file__).resolve().parents[3]
DEFINITIONS = re.compile(
    r"^\s*(?:[A-Z_]*(?:KIB|MIB|GIB|TIB)\s*=|def\s+(?:_human|fmt_bytes|format_gib|format_size|format_short))\b",
    re.MULTILINE,
)


def test_units_are_defined_once():
    offenders = []
    for folder in ("planner", "ui", "scripts", "benchmarks", "verify"):
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if rel == "planner/hardware/units.py":
                continue
            offenders += [f"{rel}: {m.group(0).strip()}" for m in DEFINITIONS.finditer(path.read_text())]
    assert not offenders, offenders
