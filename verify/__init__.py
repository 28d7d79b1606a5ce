"""The verifier: real models on real devices, compared with the planner.

The only package that imports torch (and transformers). ``verify.meta_count``
builds a model from its config on the meta device to count its tensors with
transformers' own modeling code, the ground truth for the planner's arithmetic.
``python -m verify`` (:mod:`verify.cli`) builds models with transformers' own
classes and quantizers and measures them: :mod:`verify.run` (one configuration,
the measurement protocol), :mod:`verify.suite` (many, one subprocess each),
:mod:`verify.record` (the JSON record: measured, predicted, error). Modules:
``config`` (run settings), ``source`` (where a config comes from), ``hf``
(transformers configs, tiny look-alikes), ``backends`` (which quantizer makes
each format), ``build`` (meta skeleton, module-by-module materialization),
``tensors`` (exact bytes), ``probe`` (CUDA/NVML counters), ``environment``,
``wheels`` and ``collect`` (the GPU run's packages and records).
"""
