"""The Streamlit layer: widgets and presentation only; every figure comes from ``planner``."""
