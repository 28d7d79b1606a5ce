"""A faster ``__init__`` for the frozen, slotted dataclasses an estimate builds by the thousand.

A frozen dataclass's generated ``__init__`` sets each field with ``object.__setattr__`` looked up
afresh (a global and an attribute read per field); a catalog sweep builds hundreds of thousands of
figures, cache runs and estimates, and those look-ups were a fifth of its time. :func:`fast_init`
gives the class an ``__init__`` with the same signature, defaults, default factories and
``__post_init__`` call, that sets the slots through their descriptors bound once. Instances stay
frozen (assignment still raises ``FrozenInstanceError``), compare, hash and print as before.
"""

from __future__ import annotations

import inspect
from dataclasses import MISSING, fields, is_dataclass
from typing import TypeVar

T = TypeVar("T", bound=type)


def fast_init(cls: T) -> T:
    """Replace the generated ``__init__`` of the frozen, slotted dataclass ``cls`` by a faster one."""
    if not is_dataclass(cls) or not cls.__dataclass_params__.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__}: fast_init is for frozen, slotted dataclasses")
    scope: dict[str, object] = {"MISSING": MISSING}
    params, body = [], []
    for f in fields(cls):
        setter = f"_set_{f.name}"
        scope[setter] = _slot(cls, f.name).__set__
        if not f.init:  # set from its default or factory, as the generated __init__ does
            if f.default is not MISSING:
                scope[f"_default_{f.name}"] = f.default
                body.append(f"{setter}(self, _default_{f.name})")
            elif f.default_factory is not MISSING:
                scope[f"_factory_{f.name}"] = f.default_factory
                body.append(f"{setter}(self, _factory_{f.name}())")
        elif f.default is not MISSING:
            scope[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
            body.append(f"{setter}(self, {f.name})")
        elif f.default_factory is not MISSING:
            scope[f"_factory_{f.name}"] = f.default_factory
            params.append(f"{f.name}=MISSING")
            body.append(f"{setter}(self, _factory_{f.name}() if {f.name} is MISSING else {f.name})")
        else:
            params.append(f.name)
            body.append(f"{setter}(self, {f.name})")
    generated = list(inspect.signature(cls.__init__).parameters.values())[1:]
    if [p.name for p in generated] != [p.split("=")[0] for p in params] or any(
        p.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD for p in generated
    ):  # InitVar or keyword-only fields: not handled here
        raise TypeError(f"{cls.__name__}: fast_init handles plain positional fields only")
    if hasattr(cls, "__post_init__"):
        body.append("self.__post_init__()")
    source = f"def __init__(self, {', '.join(params)}):\n    " + "\n    ".join(body or ["pass"]) + "\n"
    # the code is built above from the class's own field names, as dataclasses builds its __init__
    exec(source, scope)
    init = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init
    return cls


def _slot(cls: type, name: str):
    """The slot descriptor of ``name`` (a property wrapping it, as Figure's lazy rule, is unwrapped)."""
    for klass in cls.__mro__:
        found = klass.__dict__.get(name)
        if found is not None:
            return getattr(found, "slot", found)
    raise TypeError(f"{cls.__name__}: no slot '{name}'")
