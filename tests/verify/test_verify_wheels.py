"""The GPU machine's extra packages: pinned, fetched as wheels for its Python and platform."""

from pathlib import Path

import pytest

from verify.wheels import PLATFORMS, REQUIREMENTS, Pin, build_command, download_command, read_pins


def test_requirements_are_pinned():
    pins = {p.name: p.version for p in read_pins()}
    assert {"bitsandbytes", "hqq", "termcolor"} <= set(pins)
    assert pins["bitsandbytes"] == "0.50.2"  # the version the CPU tests check the planner against
    assert REQUIREMENTS.name == "requirements-verify.txt"


def test_unpinned_line_is_refused(tmp_path):
    path = tmp_path / "r.txt"
    path.write_text("# comment\nbitsandbytes>=0.49\n")
    with pytest.raises(ValueError, match="not pinned"):
        read_pins(path)


def test_commands():
    pin = Pin("bitsandbytes", "0.50.2")
    cmd = download_command(pin, Path("/w"), "3.12")
    assert cmd[-1] == "bitsandbytes==0.50.2" and "--only-binary=:all:" in cmd and "--no-deps" in cmd
    assert all(tag in cmd for tag in PLATFORMS) and "manylinux_2_24_x86_64" in PLATFORMS
    assert build_command(Pin("hqq", "0.2.8.post1"), Path("/w"))[-1] == "hqq==0.2.8.post1"
