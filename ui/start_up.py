"""Once per server: take what start-up loaded out of the cyclic garbage collector's full passes.

A full collection walks every container object the process holds. After start-up that is some
300,000 objects the server keeps for its whole life (Streamlit, pandas, plotly, the catalog; a
million more once transformers is loaded), so each full pass cost a page rerun 0.1-0.25 s
(``benchmarks/recommend.py``, What can I run after a new context). Once start-up is over this
collects once and then :func:`gc.freeze` moves the survivors to the permanent generation: later
passes walk only what pages made since. They are still freed when no longer referenced; only a
reference cycle among them would now outlive its use, and a collection right before the freeze
leaves none that is garbage yet.
"""

from __future__ import annotations

import gc
import os
import threading

#: Set to 0 to leave the collector as Python sets it (the tests do: one process runs every AppTest).
FREEZE_ENV = "VRAM_PLANNER_GC_FREEZE"
_OFF = ("0", "false", "no", "off")
_lock = threading.Lock()
_thread: threading.Thread | None = None


def freeze_start_up(warm_up: threading.Thread | None = None) -> threading.Thread | None:
    """In a background thread, once per process: wait for ``warm_up`` (the meta device's, which loads
    transformers), load the pages' chart library, prepare the catalog's estimate frames
    (:func:`planner.recommend.prepare_catalog`), collect, and freeze what is left.

    Returns the thread (started now or before), or ``None`` where ``VRAM_PLANNER_GC_FREEZE=0``.
    """
    global _thread
    with _lock:
        if _thread is None and os.environ.get(FREEZE_ENV, "").strip().lower() not in _OFF:
            _thread = threading.Thread(
                target=_settle, args=(warm_up,), name="vram-planner-gc-freeze", daemon=True
            )
            _thread.start()
        return _thread


def _settle(warm_up: threading.Thread | None) -> None:
    if warm_up is not None:
        warm_up.join()
    import ui.charts  # noqa: F401  plotly: every chart page loads it, so it belongs to start-up
    from planner.recommend import prepare_catalog

    prepare_catalog()  # every catalog pair's estimate frame and expected quality (What can I run reads them)
    gc.collect()
    gc.freeze()


__all__ = ["FREEZE_ENV", "freeze_start_up"]
