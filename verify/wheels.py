"""Wheels for the GPU machine, which has torch, transformers and accelerate but no network.

``python -m verify wheels DIR`` (run where PyPI is reachable) puts into ``DIR`` a wheel of
each package pinned in ``requirements-verify.txt``, for the GPU machine's Python and
platform (x86-64 Linux). Packages published only as source (``hqq``) are built here into
a pure-Python wheel (``DISABLE_CUDA=1`` skips hqq's optional CUDA extension). The GPU
script installs them with ``pip install --no-index --no-deps --target``. The wheels are
never committed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements-verify.txt"
#: manylinux tags pip must be told one by one (it matches N exactly).
PLATFORMS = (
    *(f"manylinux_2_{n}_x86_64" for n in (39, 35, 34, 31, 28, 27, 24, 17)),
    "manylinux2014_x86_64",
    "manylinux1_x86_64",
)
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+_-]+)$")


@dataclass(frozen=True, slots=True)
class Pin:
    """One pinned requirement: ``name==version``."""

    name: str
    version: str

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}"


def read_pins(path: Path = REQUIREMENTS) -> list[Pin]:
    """The ``name==version`` lines of a requirements file (comments and blanks skipped)."""
    pins = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _PIN.match(line)
        if not match:
            raise ValueError(f"{path.name}: '{line}' is not pinned as name==version")
        pins.append(Pin(match.group(1), match.group(2)))
    return pins


def download_command(pin: Pin, dest: Path, python_version: str) -> list[str]:
    """``pip download`` of ``pin``'s binary wheel for the GPU machine."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(dest)]
    cmd += ["--python-version", python_version, "--implementation", "cp"]
    for tag in PLATFORMS:
        cmd += ["--platform", tag]
    return [*cmd, pin.spec]


def build_command(pin: Pin, dest: Path) -> list[str]:
    """``pip wheel`` of a source-only package into a pure-Python wheel."""
    return [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(dest), pin.spec]


def fetch(dest: str | Path, python_version: str = "3.12", dry_run: bool = False) -> list[list[str]]:
    """Download (or build) every pinned wheel into ``dest``; returns the commands run."""
    out = Path(dest)
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DISABLE_CUDA": "1"}
    done = []
    for pin in read_pins():
        cmd = download_command(pin, out, python_version)
        done.append(cmd)
        if dry_run:
            continue
        if subprocess.run(cmd, env=env, check=False).returncode == 0:
            continue
        # NOTE: no binary wheel (hqq is published as an sdist): build one here.
        cmd = build_command(pin, out)
        done.append(cmd)
        subprocess.run(cmd, env=env, check=True)
    return done


__all__ = ["PLATFORMS", "REQUIREMENTS", "Pin", "build_command", "download_command", "fetch", "read_pins"]
