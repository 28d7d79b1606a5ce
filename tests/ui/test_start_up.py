"""ui/start_up.py: after start-up, the survivors leave the garbage collector's full passes (gc.freeze).

Each case runs in a fresh interpreter: freezing the test process itself would change how every later
test's garbage is collected.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import gc, json, threading, time
from ui.start_up import freeze_start_up

kept = []
def warm_up():  # what the meta warm-up does: load a library's worth of objects, slowly
    time.sleep(0.3)
    kept.extend([i] for i in range(50_000))

thread = threading.Thread(target=warm_up)
thread.start()
settle = freeze_start_up(thread)
again = freeze_start_up(thread)
if settle is not None:
    settle.join()
tracked = {id(o) for o in gc.get_objects()}
print(json.dumps({
    "started": settle is not None,
    "once": settle is again,
    "frozen": gc.get_freeze_count(),
    "warm_up_frozen": not any(id(x) in tracked for x in kept[:100]),
    "kept": len(kept),
    "plotly_loaded": "plotly.graph_objects" in __import__("sys").modules,
}))
"""


def _run(env_value: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "VRAM_PLANNER_GC_FREEZE"}
    if env_value is not None:
        env["VRAM_PLANNER_GC_FREEZE"] = env_value
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_freezes_once_after_the_warm_up_and_the_chart_library():
    got = _run(None)
    assert got["started"] and got["once"]
    # the warm-up's 50,000 lists were made before the freeze (it waited for the thread) and are frozen
    assert got["kept"] == 50_000 and got["warm_up_frozen"]
    assert got["frozen"] > 50_000
    assert got["plotly_loaded"]


def test_off_switch_leaves_the_collector_alone():
    got = _run("0")
    assert not got["started"]
    assert got["frozen"] == 0
