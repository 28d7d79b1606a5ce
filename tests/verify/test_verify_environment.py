"""What a record says it ran on."""

import pytest

from verify.environment import PACKAGES, environment, package_versions
from verify.probe import HostProbe


def test_package_versions_without_importing():
    versions = package_versions()
    assert set(versions) == set(PACKAGES)
    assert all(v is None or isinstance(v, str) for v in versions.values())


def test_cpu_environment():
    pytest.importorskip("torch")
    env = environment(HostProbe())
    assert env["device"] == "cpu" and env["gpu"] is None
    assert env["date"].endswith("Z") and "PYTORCH_ALLOC_CONF" in env["env"]
    assert env["packages"]["transformers"]
