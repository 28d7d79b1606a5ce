"""Public start-up logs of the serving engines (``data/public_logs``): replayed, fitted, checked.

:mod:`planner.public_logs.records` loads the cited records and replays each with the engine's
start-up rules; :mod:`planner.public_logs.calibration` fits vLLM's empirical terms on half of them
(split by model) and states the error on the other half.
"""
