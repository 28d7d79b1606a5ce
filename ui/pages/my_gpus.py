"""My GPUs: every GPU on this machine (NVIDIA, Apple silicon, AMD, Intel), refreshed every few seconds."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from planner.hardware import LiveDevice, LiveGpu, MachineReport, format_bandwidth, format_gib, read_machine
from planner.hardware.units import to_gib

st.title("My GPUs")
st.caption(
    "Read live: NVIDIA GPUs through NVML (nvidia-ml-py), a Mac's GPU through sysctl, AMD GPUs and APUs through "
    "amdsmi, amd-smi, rocm-smi or the amdgpu driver, Intel GPUs through xpu-smi. Memory in GiB (2^30 bytes)."
)


def _gib(value: int | None) -> str:
    return "n/a" if value is None else format_gib(value)


def _nvml_gpu(report: MachineReport, device: LiveDevice) -> LiveGpu | None:
    if device.vendor != "nvidia":
        return None
    return next((g for g in report.nvml.gpus if g.index == device.index), None)


def _bandwidth(device: LiveDevice, gpu: LiveGpu | None) -> int | None:
    if gpu is not None:
        return gpu.bandwidth_bytes_per_s
    return device.catalog.memory_bandwidth_bytes_per_s if device.catalog else None


def _unified(device: LiveDevice) -> None:
    cols = st.columns(4)
    cols[0].metric("Unified memory", _gib(device.total_bytes), help="shared by the CPU and the GPU")
    cols[1].metric("GPU limit", _gib(device.gpu_limit_bytes), help=device.gpu_limit_rule)
    cols[2].metric("In use", _gib(device.used_bytes))
    cols[3].metric("A plan starts from", _gib(device.capacity_bytes))
    st.caption(f"GPU limit: {device.gpu_limit_rule}")


def _discrete(device: LiveDevice, bandwidth: int | None) -> None:
    cols = st.columns(4)
    cols[0].metric("Total", _gib(device.total_bytes))
    cols[1].metric("Used", _gib(device.used_bytes))
    cols[2].metric("Free", _gib(device.free_bytes))
    cols[3].metric("Bandwidth", format_bandwidth(bandwidth) if bandwidth else "n/a")
    if device.total_bytes:
        st.progress(
            min((device.used_bytes or 0) / device.total_bytes, 1.0), text="used share of total memory"
        )


def _device(report: MachineReport, device: LiveDevice) -> None:
    gpu = _nvml_gpu(report, device)
    st.subheader(device.label)
    if device.unified:
        _unified(device)
    else:
        _discrete(device, _bandwidth(device, gpu))
    for note in device.notes:
        if note.startswith("approximate"):
            st.warning(note)
        else:
            st.caption(note)
    details = [
        f"catalog match: {device.catalog.name if device.catalog else 'none'}",
        f"read by {device.reader}",
    ]
    details += [f"{key}: {value}" for key, value in device.details if key != "UUID"]
    if gpu is not None and gpu.reserved_bytes:
        details.append(f"reserved by the driver: {format_gib(gpu.reserved_bytes)}")
    if gpu is not None and gpu.mig_enabled:
        details.append(f"MIG enabled ({len(gpu.mig_devices)} instances)")
    st.caption(" · ".join(details))
    if gpu is not None and gpu.processes:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "pid": p.pid,
                        "kind": p.kind,
                        "used GiB": to_gib(p.used_bytes),
                    }
                    for p in gpu.processes
                ]
            ),
            hide_index=True,
            column_config={"used GiB": st.column_config.NumberColumn(format="%.2f")},
        )


def _readers(report: MachineReport) -> pd.DataFrame:
    return pd.DataFrame(
        [{"reader": r.reader, "GPUs": r.devices, "what it said": r.message} for r in report.readers]
    )


@st.fragment(run_every=3)
def live_view() -> None:
    """One reading of every reader; the fragment re-runs itself every 3 seconds."""
    report = read_machine()
    if not report.available:
        st.info(
            "**No GPU detected on the machine running this app.**\n\n"
            "This is expected on a hosted page. Plan against a catalog GPU or a custom size in the sidebar; where "
            "the app runs on your own machine, this page shows its GPUs (NVIDIA, Apple silicon, AMD, Intel) and "
            "the sidebar's *Detected* source plans against what they have free."
        )
        st.dataframe(_readers(report), hide_index=True)
        return
    if report.nvml.available:
        st.caption(
            f"NVIDIA driver {report.nvml.driver_version} · CUDA driver {report.nvml.cuda_driver_version}"
        )
    for warning in dict.fromkeys([*report.nvml.warnings, *report.warnings]):
        st.warning(warning)
    for device in report.devices:
        _device(report, device)
    with st.expander("What each reader found"):
        st.dataframe(_readers(report), hide_index=True)


live_view()
