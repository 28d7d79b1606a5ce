"""Session-wide test settings: the planner's inventory cache goes to a fresh folder, never ~/.cache; the app
does not load transformers in the background (every AppTest and browser test would pay it on 2 cores;
tests/planner/model/inventory/test_meta_warm_up.py tests the warm-up itself) and does not freeze the test
process's objects out of the garbage collector's sight (tests/ui/test_start_up.py tests that)."""

from __future__ import annotations

import os
import shutil
import tempfile

_CACHE_ENV = "VRAM_PLANNER_CACHE_DIR"
_WARM_UP_ENV = "VRAM_PLANNER_META_WARMUP"
_FREEZE_ENV = "VRAM_PLANNER_GC_FREEZE"


def pytest_configure(config):
    os.environ.setdefault(_WARM_UP_ENV, "0")
    os.environ.setdefault(_FREEZE_ENV, "0")
    if not os.environ.get(_CACHE_ENV):
        folder = tempfile.mkdtemp(prefix="vram-planner-tests-")
        os.environ[_CACHE_ENV] = folder
        config._vram_planner_cache = folder


def pytest_unconfigure(config):
    folder = getattr(config, "_vram_planner_cache", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop(_CACHE_ENV, None)
