"""Serving engines' start-up rules (vLLM, SGLang, TensorRT-LLM), one module per engine.

Each module turns a model, a format, a GPU and the engine's start-up flags into a
:class:`planner.memory.startup.Startup`: what that engine version measures or reserves at start-up,
term by term, with the source file and function of each rule. :mod:`planner.serving.tp` holds the
tensor-parallel weight split they share.
"""
