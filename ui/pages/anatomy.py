"""Model anatomy: exact parameter counts, tensor by tensor, and what each layer caches."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from planner.report import compact_layers, params_report
from ui.charts import parameters_by_role_figure
from ui.sidebar import current_plan, planned_model

plan = current_plan()
st.title("Model anatomy")
st.caption(
    "Every tensor of the model, counted exactly (tied weights once), with the attention kind per layer "
    "that decides the KV cache."
)
INVENTORY_HELP = (
    "Most authoritative source first: the checkpoint's own safetensors headers (a Hub id or a local folder), "
    "transformers' modeling code on the meta device (where torch is installed), the planner's hand-written "
    "builders, or a generic Llama-style estimate (marked approximate)."
)
spec = planned_model(plan)

report = params_report(spec)
source = f"**Tensors from {spec.inventory_source.value}**"
st.markdown(source + (f" ({spec.inventory_detail})" if spec.inventory_detail else ""), help=INVENTORY_HELP)

cols = st.columns(4)
cols[0].metric("Total parameters", f"{spec.total_parameters / 1e9:,.3f} B", help=f"{spec.total_parameters:,}")
cols[1].metric(
    "Active per token", f"{spec.active_parameters / 1e9:,.3f} B", help=f"{spec.active_parameters:,}"
)
cols[2].metric("Layers", spec.num_layers)
cols[3].metric("Architecture", spec.architecture)
if spec.is_moe:
    st.caption(
        f"Mixture of experts: {spec.n_experts_per_token} of {spec.n_experts} routed experts run per token."
    )
for note in spec.notes:
    st.caption(f"Note: {note}")

left, right = st.columns([3, 2])
with left:
    st.subheader("Parameters by role")
    st.plotly_chart(parameters_by_role_figure(spec), key="roles")
with right:
    st.subheader("Layers")
    st.dataframe(
        pd.DataFrame(compact_layers(spec), columns=["layers", "attention"]), hide_index=True, width="stretch"
    )

st.subheader("Tensors")
columns = ["name", "role", "shape", "count", "parameters"]
if any("stored_as" in t for t in report["tensors"]):
    columns += ["stored_as", "stored_bytes"]  # read from the checkpoint's headers
tensors = pd.DataFrame(report["tensors"])[columns]
tensors["shape"] = tensors["shape"].map(lambda s: " × ".join(map(str, s)))
st.dataframe(
    tensors,
    hide_index=True,
    width="stretch",
    column_config={"parameters": st.column_config.NumberColumn(format="localized")},
)
st.download_button(
    "Download as JSON",
    json.dumps(report, indent=2),
    file_name=f"{spec.name.replace('/', '--')}-params.json",
    mime="application/json",
)
