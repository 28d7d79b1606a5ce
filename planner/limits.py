"""The bounds and defaults every surface shares (a typo guard, not a hardware limit), in one small module.

Kept free of imports so the CLI's argument parsing and a link's parameters can be checked without
loading the planner's catalogs.
"""

#: The context every surface plans when none is given (the CLI, the app, the API and ``RunSettings()``).
DEFAULT_CONTEXT = 8192
#: Longest context accepted: 16M tokens.
MAX_CONTEXT = 1 << 24
#: Most concurrent sequences accepted.
MAX_BATCH = 1 << 16
#: The most GPUs one plan may span (8-GPU nodes are the common maximum).
MAX_GPUS = 64
#: Longest text accepted for any named input (a model id, a GPU name, a size): longer is refused, not echoed.
MAX_TEXT = 200
