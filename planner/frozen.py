"""Frozen, slotted dataclasses that are quick to define and to build.

:func:`record` is ``@dataclass(frozen=True, slots=True)`` for the planner's value classes. The
standard library compiles six methods per class from source (``__init__``, ``__repr__``,
``__eq__``, ``__hash__``, ``__setattr__``, ``__delattr__``); for the 66 classes a ``recommend``
imports that was 0.11 s of a 0.19 s import (``benchmarks/cli_start.py``). A record compiles its
``__init__`` only and keeps ``dataclasses``' own frozen ``__setattr__``/``__delattr__``; ``__repr__``,
``__eq__`` and ``__hash__`` are plain functions over the fields that behave as the generated ones
(same text, same comparison of the ``compare`` fields as a tuple, the same hash of that tuple).

The ``__init__`` has the generated one's signature, defaults, default factories
and ``__post_init__`` call, and sets the slots through their descriptors bound once: a frozen
dataclass's generated ``__init__`` looks ``object.__setattr__`` up afresh for each field, and for the
figures, cache runs and estimates a catalog sweep builds by the hundred thousand those look-ups were
a fifth of its time. Instances stay frozen (assignment raises ``FrozenInstanceError``).
"""

from __future__ import annotations

import reprlib
from dataclasses import MISSING, dataclass, fields
from operator import attrgetter
from typing import Any, TypeVar, overload

T = TypeVar("T", bound=type)


@overload
def record(cls: T, /) -> T: ...
@overload
def record(*, eq: bool = True) -> Any: ...
def record(cls: Any = None, /, *, eq: bool = True) -> Any:
    """``@dataclass(frozen=True, slots=True, eq=eq)``, defined without compiling what needs no compiling."""

    def wrap(klass: T) -> T:
        own = set(klass.__dict__)  # methods the class writes itself are kept, as dataclasses keeps them
        made = dataclass(klass, init=False, repr=False, eq=False, frozen=True, slots=True)
        if "__init__" not in own:
            _add_init(made)
        if "__repr__" not in own:
            _add_repr(made)
        if eq and "__eq__" not in own:
            _add_eq_and_hash(made, hash_too="__hash__" not in own)
        return made

    return wrap if cls is None else wrap(cls)


def _add_repr(cls: type) -> None:
    shown = tuple(f.name for f in fields(cls) if f.repr)

    @reprlib.recursive_repr()
    def __repr__(self) -> str:  # the generated __repr__'s text
        return f"{self.__class__.__qualname__}({', '.join(f'{n}={getattr(self, n)!r}' for n in shown)})"

    __repr__.__qualname__ = f"{cls.__qualname__}.__repr__"
    cls.__repr__ = __repr__


def _add_eq_and_hash(cls: type, hash_too: bool) -> None:
    compared = [f.name for f in fields(cls) if f.compare]
    hashed = [f.name for f in fields(cls) if (f.compare if f.hash is None else f.hash)]
    eq_values, hash_values = _tuple_getter(compared), _tuple_getter(hashed)

    def __eq__(self, other: object) -> bool:  # the generated __eq__: fields as a tuple, same class only
        if other.__class__ is self.__class__:
            return eq_values(self) == eq_values(other)
        return NotImplemented

    def __hash__(self) -> int:  # the generated __hash__ of a frozen dataclass: the fields' tuple
        return hash(hash_values(self))

    __eq__.__qualname__ = f"{cls.__qualname__}.__eq__"
    __hash__.__qualname__ = f"{cls.__qualname__}.__hash__"
    cls.__eq__ = __eq__
    if hash_too:
        cls.__hash__ = __hash__


def _tuple_getter(names: list[str]):
    """A function giving the named attributes as a tuple (attrgetter gives a bare value for one name)."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        (name,) = names
        return lambda obj: (getattr(obj, name),)
    return lambda obj: ()


def _add_init(cls: type) -> None:
    """Give ``cls`` the ``__init__`` described in the module docstring (plain positional fields only)."""
    declared = cls.__dataclass_fields__.values()  # type: ignore[attr-defined]
    if any(f.kw_only for f in declared) or len(declared) != len(fields(cls)):
        raise TypeError(
            f"{cls.__name__}: a record handles plain positional fields only (no keyword-only, InitVar or ClassVar)"
        )
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
    if hasattr(cls, "__post_init__"):
        body.append("self.__post_init__()")
    source = f"def __init__(self, {', '.join(params)}):\n    " + "\n    ".join(body or ["pass"]) + "\n"
    # the code is built above from the class's own field names, as dataclasses builds its __init__
    exec(source, scope)
    init = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = init


def _slot(cls: type, name: str):
    """The slot descriptor of ``name`` (a property wrapping it, as Figure's lazy rule, is unwrapped)."""
    for klass in cls.__mro__:
        found = klass.__dict__.get(name)
        if found is not None:
            return getattr(found, "slot", found)
    raise TypeError(f"{cls.__name__}: no slot '{name}'")
