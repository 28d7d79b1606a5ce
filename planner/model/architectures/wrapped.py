"""Image-text wrappers counted as a hand-written language model plus the template's towers.

The language model comes from its family's builder (tensor names and roles as the checkpoint stores them,
cache geometry from the builder's layers); the vision tower and projector come from the wrapper's template
(``data/templates/image_text``, derived from transformers' modeling code), each tensor's role read from its
name by :func:`planner.model.roles.classify`, as for any other inventory.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from planner.model import templates
from planner.model.roles import classify
from planner.model.spec import ModelSpec, Role, TensorGroup
from planner.model.templated import build_from_template


def _renamed(t: TensorGroup, prefix: str) -> TensorGroup:
    """A causal-LM tensor moved under the wrapper's language-model prefix (``model.`` -> ``prefix.``)."""
    if t.role is Role.LM_HEAD or not t.name.startswith("model."):
        return t
    return replace(t, name=f"{prefix}.{t.name[len('model.') :]}")


def with_template_towers(
    wrapper: str, raw: dict[str, Any], name: str, text: ModelSpec, text_prefix: str
) -> ModelSpec | None:
    """``text`` (the builder's language model) plus the towers of ``wrapper``'s template; ``None`` without one."""
    tpl = templates.find(wrapper, raw)
    if tpl is None:
        return None
    spec = build_from_template(tpl, raw, name, text_spec=text, text_replaced=True)
    groups = []
    for t in spec.tensors:
        if t.role in (Role.VISION, Role.PROJECTOR):
            # NOTE: the template files a tower's connector under VISION; the name says which part it is.
            role = classify(t.name, len(t.shape))
            t = replace(t, role=role if role in (Role.VISION, Role.PROJECTOR) else t.role)
        else:
            t = _renamed(t, text_prefix)
        groups.append(t)
    return replace(
        spec,
        tensors=tuple(groups),
        family=text.family,
        notes=tuple(
            n.replace("tensors from the", "vision tower and projector from the", 1)
            for n in dict.fromkeys(spec.notes)
            if not n.startswith("language model counted by")
        ),
    )
