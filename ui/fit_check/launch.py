"""The server's start-up on the plan's GPU (vLLM, SGLang, TensorRT-LLM) and the command that runs the plan."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from planner.fit.answer import FitAnswer, launch_json
from planner.hardware.units import to_gib
from planner.memory.estimate import MemoryEstimate
from ui.fit_check import GIB_COLUMN
from ui.markdown import escape

ENGINE_NAMES = {"vllm": "vLLM", "sglang": "SGLang", "trtllm": "TensorRT-LLM"}


def draw_startup(answer: FitAnswer | None) -> None:
    """What the server reserves at start-up on this GPU: its budget and the KV pool it leaves (an estimate)."""
    if answer is None or answer.startup is None:
        return
    st_ = answer.startup
    name = ENGINE_NAMES.get(st_.engine, st_.engine)
    st.subheader(f"{name} at start-up (estimate)")
    per = f", per GPU of {st_.tensor_parallel}" if st_.tensor_parallel > 1 else ""
    st.caption(
        f"What {name} {escape(st_.version)} measures or reserves when it starts on this GPU{per}; sizes in GiB. "
        f"Budget: {escape(st_.budget.rule)}."
    )
    rows = [
        ("budget", st_.budget),
        ("weights", st_.weights),
        ("profile peak (activations)", st_.profile_peak),
        ("non-torch memory", st_.non_torch),
        ("KV pool", st_.kv_pool),
    ]
    table = pd.DataFrame(
        [
            {
                "term": label,
                "GiB": to_gib(fig.bytes) if label != "KV pool" else st_.kv_pool_bytes / (1 << 30),
                "kind": "exact arithmetic" if fig.exact else "estimate (empirical band)",
                "rule": fig.rule,
            }
            for label, fig in rows
        ]
    )
    st.dataframe(table, hide_index=True, column_config={"GiB": GIB_COLUMN})
    st.metric(
        "KV cache tokens the pool holds",
        f"{st_.kv_tokens:,}",
        help=f"{st_.kv_bytes_per_token:,} bytes per token",
    )
    for note in st_.notes:
        st.warning(escape(note))


def draw_launch(est: MemoryEstimate, answer: FitAnswer | None) -> None:
    """The command that starts the engine with this plan's flags, when the engine has one here."""
    launch = launch_json(est, answer)
    if launch is None:
        return
    st.subheader("Launch command")
    st.caption("Starts the engine with this plan's settings (the flags the estimate assumed).")
    env = " ".join(f"{k}={v}" for k, v in sorted(launch["env"].items()))
    st.code((env + " " if env else "") + launch["command"], language="bash")


__all__ = ["draw_launch", "draw_startup"]
