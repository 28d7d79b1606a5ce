"""What a measurement ran on: GPU, driver, CUDA, library versions and allocator settings.

Versions come from package metadata, so reading them imports nothing heavy; no host
name or user is recorded.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
from typing import Any

#: Distributions whose versions a record carries.
PACKAGES = (
    "torch",
    "transformers",
    "accelerate",
    "bitsandbytes",
    "hqq",
    "torchao",
    "nvidia-ml-py",
    "huggingface_hub",
)
#: Environment variables that change what the allocator or CUDA hold.
ENV_VARS = ("PYTORCH_ALLOC_CONF", "PYTORCH_CUDA_ALLOC_CONF", "CUDA_MODULE_LOADING", "CUDA_VISIBLE_DEVICES")


def package_versions() -> dict[str, str | None]:
    """Installed version of each of :data:`PACKAGES` (``None`` when absent)."""
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def environment(probe: Any) -> dict[str, Any]:
    """The record's ``environment``: host, packages, torch's CUDA build, the GPU and the allocator."""
    import torch

    env: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "device": probe.device,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "cpu_count": os.cpu_count(),
        "packages": package_versions(),
        "torch_cuda": torch.version.cuda,
        "env": {k: os.environ.get(k) for k in ENV_VARS},
        "allocator_settings": probe.allocator_settings(),
        "gpu": None,
    }
    gpu = probe.gpu()
    if probe.device == "cuda":
        props = torch.cuda.get_device_properties(0)
        capability = probe.capability()
        env["gpu"] = {
            "name": props.name,
            "compute_capability": ".".join(map(str, capability)) if capability else None,
            "total_bytes": int(props.total_memory),
            "usable_bytes": gpu.usable_bytes if gpu else int(props.total_memory),
            "nvml_total_bytes": gpu.total_bytes if gpu else None,
            "nvml_reserved_bytes": gpu.reserved_bytes if gpu else None,
            "memory_info_version": gpu.memory_info_version if gpu else None,
            "mig_enabled": gpu.mig_enabled if gpu else None,
            "catalog": gpu.catalog.id if gpu and gpu.catalog else None,
        }
        from planner.hardware.live import read_live_gpus

        report = read_live_gpus(probe.nvml)
        env["driver"] = report.driver_version
        env["cuda_driver"] = report.cuda_driver_version
    return env


__all__ = ["ENV_VARS", "PACKAGES", "environment", "package_versions"]
