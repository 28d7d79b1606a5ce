"""My GPUs: what NVML reports for each local NVIDIA GPU, refreshed every few seconds."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from planner.hardware import format_bandwidth, format_gib, read_live_gpus
from planner.hardware.units import to_gib

st.title("My GPUs")
st.caption(
    "Read live through NVML (nvidia-ml-py): total, used and free memory per GPU, and the processes holding it. "
    "Memory in GiB (2^30 bytes)."
)


@st.fragment(run_every=3)
def live_view() -> None:
    """One NVML reading; the fragment re-runs itself every 3 seconds."""
    report = read_live_gpus()
    if not report.available:
        st.info(
            f"**{report.reason}.**\n\n"
            "This is expected on a hosted page or a machine without an NVIDIA driver. Plan against a catalog GPU "
            "or a custom size in the sidebar; where the app runs on a machine with NVIDIA GPUs, this page shows "
            "them and the sidebar's *Detected (NVML)* source plans against their free memory."
        )
        return
    st.caption(f"Driver {report.driver_version} · CUDA driver {report.cuda_driver_version}")
    for warning in report.warnings:
        st.warning(warning)
    for gpu in report.gpus:
        st.subheader(f"GPU {gpu.index}: {gpu.name}")
        cols = st.columns(4)
        cols[0].metric("Total", format_gib(gpu.total_bytes) if gpu.total_bytes is not None else "n/a")
        cols[1].metric("Used", format_gib(gpu.used_bytes) if gpu.used_bytes is not None else "n/a")
        cols[2].metric("Free", format_gib(gpu.free_bytes) if gpu.free_bytes is not None else "n/a")
        bandwidth = gpu.bandwidth_bytes_per_s
        cols[3].metric("Bandwidth", format_bandwidth(bandwidth) if bandwidth else "n/a")
        if gpu.total_bytes:
            st.progress((gpu.used_bytes or 0) / gpu.total_bytes, text="used share of total memory")
        details = [f"catalog match: {gpu.catalog.name if gpu.catalog else 'none'}"]
        if gpu.reserved_bytes:
            details.append(f"reserved by the driver: {format_gib(gpu.reserved_bytes)}")
        if gpu.mig_enabled:
            details.append(f"MIG enabled ({len(gpu.mig_devices)} instances)")
        st.caption(" · ".join(details))
        if gpu.processes:
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


live_view()
