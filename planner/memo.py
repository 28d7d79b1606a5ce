"""Values derived from immutable planner objects, remembered per object.

A :class:`~planner.model.spec.ModelSpec` is frozen, but hashing one walks every tensor group and
layer, which costs more than most of what is derived from it. :func:`per_object` remembers a
function's result by the *identity* of its leading arguments (specs, formats, weight reports: never
mutated once built) plus its other, hashable, arguments. Each entry holds the objects it was made
from, so an id cannot be reused while the entry lives; the oldest entries go first.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

_CACHES: list[IdentityCache] = []


class IdentityCache:
    """At most ``maxsize`` values keyed by the identity of some objects plus hashable extras.

    The oldest entry goes first when full. Lock-free: a dict read or write is atomic under the
    GIL, and a value computed twice by two threads is the same value.
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._data: dict[tuple, tuple[tuple, Any]] = {}
        _CACHES.append(self)

    def get(self, objects: tuple, extra: tuple, make: Callable[[], R]) -> R:
        """The value for ``objects`` (by identity) and ``extra``, made with ``make()`` on a miss."""
        key = (id(objects[0]), *extra) if len(objects) == 1 else (*map(id, objects), *extra)
        hit = self._data.get(key)
        if hit is not None:  # the entry holds its objects, so no other live object has their ids
            return hit[1]
        value = make()
        self._store(key, objects, value)
        return value

    def peek(self, objects: tuple, extra: tuple = ()) -> Any:
        """The value held for ``objects`` (by identity) and ``extra``, or ``None`` (nothing is made)."""
        hit = self._data.get((*map(id, objects), *extra))
        return None if hit is None else hit[1]  # as in get: the entry holds its objects

    def put(self, objects: tuple, extra: tuple, value: Any) -> None:
        """Hold ``value`` for ``objects`` and ``extra``, as if made here (a value read back from disk)."""
        self._store((*map(id, objects), *extra), objects, value)

    def _store(self, key: tuple, objects: tuple, value: Any) -> None:
        data = self._data
        if len(data) >= self.maxsize:
            with contextlib.suppress(KeyError, RuntimeError, StopIteration):  # another thread got there first
                del data[next(iter(data))]
        data[key] = (objects, value)

    def clear(self) -> None:
        """Forget every value."""
        self._data.clear()


def per_object(objects: int = 1, maxsize: int = 2048) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Remember ``fn(*args)`` by the identity of its first ``objects`` arguments and the value of the rest.

    Only for pure functions of immutable objects; keyword arguments are not accepted.
    """

    def deco(fn: Callable[P, R]) -> Callable[P, R]:
        cache = IdentityCache(maxsize)
        data = cache._data

        if objects == 1:

            def wrapper(*args: Any) -> R:
                first = args[0]
                key = (id(first), *args[1:])
                hit = data.get(key)
                if hit is not None and hit[0][0] is first:
                    return hit[1]
                value = fn(*args)
                cache._store(key, (first,), value)
                return value

        elif objects == 2:

            def wrapper(*args: Any) -> R:
                a, b = args[0], args[1]
                key = (id(a), id(b), *args[2:])
                hit = data.get(key)
                if hit is not None and hit[0][0] is a and hit[0][1] is b:
                    return hit[1]
                value = fn(*args)
                cache._store(key, (a, b), value)
                return value

        elif objects == 3:

            def wrapper(*args: Any) -> R:
                a, b, c = args[0], args[1], args[2]
                key = (id(a), id(b), id(c), *args[3:])
                hit = data.get(key)
                if hit is not None and hit[0][0] is a and hit[0][1] is b and hit[0][2] is c:
                    return hit[1]
                value = fn(*args)
                cache._store(key, (a, b, c), value)
                return value

        else:

            def wrapper(*args: Any) -> R:
                return cache.get(args[:objects], args[objects:], lambda: fn(*args))

        wrapper = wraps(fn)(wrapper)
        wrapper.cache = cache  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return deco


def clear_all() -> None:
    """Forget every remembered value (tests that rebuild data files use it)."""
    for cache in _CACHES:
        cache.clear()
