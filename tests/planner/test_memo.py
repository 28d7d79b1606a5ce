"""The identity-keyed memo: one value per object (not per equal object), bounded, keeping its keys alive."""

import gc

from planner.memo import IdentityCache, per_object


class Box:
    """A stand-in for an immutable planner object whose hashing would be costly."""

    def __init__(self, value):
        self.value = value

    def __hash__(self):  # pragma: no cover - the memo must never hash its objects
        raise AssertionError("hashed")


def test_one_call_per_object_and_extra_arguments():
    calls = []

    @per_object()
    def double(box, k):
        calls.append((box.value, k))
        return box.value * 2 * k

    a = Box(3)
    assert double(a, 1) == double(a, 1) == 6
    assert double(a, 2) == 12
    assert calls == [(3, 1), (3, 2)]
    b = Box(3)  # equal content, another object: computed again
    assert double(b, 1) == 6 and calls[-1] == (3, 1) and len(calls) == 3


def test_two_objects_are_keyed_together():
    @per_object(objects=2)
    def pair(x, y):
        return (x.value, y.value)

    x, y = Box(1), Box(2)
    assert pair(x, y) == (1, 2) and pair(y, x) == (2, 1)
    assert pair.cache._data[(id(x), id(y))][1] == (1, 2)


def test_three_and_four_objects_are_keyed_together():
    calls = []

    @per_object(objects=3)
    def triple(x, y, z, k):
        calls.append(k)
        return (x.value, y.value, z.value, k)

    @per_object(objects=4)
    def quad(w, x, y, z):
        return (w.value, x.value, y.value, z.value)

    x, y, z = Box(1), Box(2), Box(3)
    assert triple(x, y, z, 0) == triple(x, y, z, 0) == (1, 2, 3, 0) and calls == [0]
    assert triple(z, y, x, 0) == (3, 2, 1, 0) and triple(x, y, z, 1) == (1, 2, 3, 1) and calls == [0, 0, 1]
    assert quad(x, y, z, x) == (1, 2, 3, 1) and quad(x, y, z, y) == (1, 2, 3, 2)


def test_bounded_oldest_first_and_keys_kept_alive():
    @per_object(maxsize=2)
    def value(box):
        return box.value

    boxes = [Box(i) for i in range(3)]
    ids = [id(b) for b in boxes]
    for b in boxes:
        value(b)
    assert list(value.cache._data) == [(ids[1],), (ids[2],)]  # the first one went
    del boxes
    gc.collect()
    # the cache holds the objects of its entries, so their ids cannot be reused by new objects
    assert all(entry[0][0].value in (1, 2) for entry in value.cache._data.values())


def test_identity_cache_get_and_clear():
    cache = IdentityCache(4)
    a = Box(5)
    assert cache.get((a,), ("x",), lambda: 1) == 1
    assert cache.get((a,), ("x",), lambda: 2) == 1
    cache.clear()
    assert cache.get((a,), ("x",), lambda: 3) == 3


def test_peek_and_put_serve_the_wrapped_function():
    """A value put for some objects is what the remembered function returns for them, without calling it."""
    calls = []

    @per_object(objects=2)
    def pair(a, b):
        calls.append((a, b))
        return a.value + b.value

    a, b, c = Box(1), Box(2), Box(2)
    assert pair.cache.peek((a, b)) is None  # nothing made by peeking
    pair.cache.put((a, b), (), 40)
    assert pair(a, b) == 40 and pair.cache.peek((a, b)) == 40 and calls == []
    assert pair.cache.peek((a, c)) is None  # an equal but other object is another key
    assert pair(a, c) == 3 and calls == [(a, c)]
