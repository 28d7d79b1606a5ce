"""Entry point for ``python -m planner``."""

import gc
import sys

from planner.cli import main

# NOTE: a command keeps most of what it builds until it exits. Python's default collector thresholds
# walk those objects hundreds of times a run, and at exit the interpreter's own collections walk them
# again (together 0.2 s of a 1.1 s ``recommend --gpu 4090``, benchmarks/recommend.py). A larger first
# threshold (mypy's build sets 200,000) collects young garbage a few times a run; freezing what is left
# at the end (gc.freeze) keeps the exit's collections off it. Atexit handlers and finalization still run.
gc.set_threshold(100_000, 50, 100)
status = main()
gc.freeze()
sys.exit(status)
