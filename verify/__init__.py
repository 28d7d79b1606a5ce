"""The verifier: real models on real devices, compared with the planner.

The only package that imports torch (and transformers). ``verify.meta_count``
builds a model from its config on the meta device to count its tensors with
transformers' own modeling code, the ground truth for the planner's arithmetic.
"""
