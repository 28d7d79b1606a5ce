"""A record's ``__init__`` behaves as the standard library's generated one: same signature, defaults,
factories, ``__post_init__``, equality and immutability (the reference is ``dataclasses`` itself)."""

import copy
import dataclasses
import inspect
import pickle
from dataclasses import dataclass, field

import pytest

from planner.frozen import record
from planner.memory.estimate import MemoryEstimate, RunSettings, SettingsError
from planner.memory.figure import Figure
from planner.memory.kv import CacheRun, LayerCache


def _pair():
    def make(decorate):
        @decorate
        class Point:
            x: int
            label: str = "p"
            tags: list = field(default_factory=list)
            hidden: int = field(default=7, init=False)

            def __post_init__(self) -> None:
                if self.x < 0:
                    raise ValueError("negative")

        return Point

    return make(dataclass(frozen=True, slots=True)), make(record)


def test_same_signature_defaults_and_values_as_the_generated_init():
    plain, fast = _pair()

    def params(cls):
        return [(p.name, p.kind, p.default) for p in inspect.signature(cls.__init__).parameters.values()]

    # the generated __init__ marks a factory's default with a sentinel of its own; a record's with MISSING
    assert [(n, k) for n, k, _ in params(plain)] == [(n, k) for n, k, _ in params(fast)]
    assert [d for n, _, d in params(plain) if n != "tags"] == [d for n, _, d in params(fast) if n != "tags"]
    for args, kwargs in [((1,), {}), ((2, "q"), {}), ((3,), {"tags": [1]}), ((), {"x": 4, "label": "z"})]:
        a, b = plain(*args, **kwargs), fast(*args, **kwargs)
        assert dataclasses.astuple(a) == dataclasses.astuple(b)
        assert repr(a).split("(", 1)[1] == repr(b).split("(", 1)[1]
        assert a.hidden == b.hidden == 7


def test_factories_run_per_instance_and_post_init_still_validates():
    _, fast = _pair()
    one, two = fast(1), fast(2)
    assert one.tags == [] and one.tags is not two.tags
    with pytest.raises(ValueError, match="negative"):
        fast(-1)
    with pytest.raises(TypeError):
        fast()  # x is required, as in the generated __init__


def test_instances_stay_frozen():
    _, fast = _pair()
    p = fast(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x = 2  # type: ignore[misc]


def test_refuses_init_only_fields_it_does_not_build():
    with pytest.raises(TypeError, match="plain positional fields"):

        @record
        class InitOnly:
            x: int
            scale: dataclasses.InitVar[int] = 1


@pytest.mark.parametrize("cls", [Figure, RunSettings, MemoryEstimate, CacheRun, LayerCache])
def test_the_planner_classes_keep_their_fields_as_parameters(cls):
    params = list(inspect.signature(cls.__init__).parameters)[1:]
    assert params == [f.name for f in dataclasses.fields(cls) if f.init]


def test_planner_classes_keep_their_checks_and_lazy_rule():
    with pytest.raises(ValueError, match="negative memory figure"):
        Figure(-1, "x")
    with pytest.raises(SettingsError, match="context must be between"):
        RunSettings(context=0)
    lazy = Figure(5, lambda: "made on first read")
    assert lazy.rule == "made on first read" and lazy.parts == {} and lazy.band == (5, 5)
    assert RunSettings(context=4096) == RunSettings(4096) and hash(RunSettings()) == hash(RunSettings())


def test_refuses_keyword_only_fields_it_does_not_build():
    with pytest.raises(TypeError, match="plain positional fields"):

        @record
        class KeywordOnly:
            x: int
            _: dataclasses.KW_ONLY
            y: int = 0


# --- record: the whole frozen, slotted dataclass, held against dataclasses' own ----------------------


def _twins(**options):
    """The same class made by ``dataclass(frozen=True, slots=True, ...)`` and by ``record``."""

    def body():
        class Box:
            """A box."""

            name: str
            size: int = 1
            tags: tuple = ()
            seen: dict = field(default_factory=dict, compare=False)
            secret: str = field(default="s", repr=False)
            made: int = field(default=3, init=False)

            @property
            def double(self) -> int:
                return 2 * self.size

        return Box

    eq = options.get("eq", True)
    return dataclass(frozen=True, slots=True, eq=eq)(body()), record(eq=eq)(body())


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [(("a",), {}), (("b", 2), {}), (("c", 3, (1, 2)), {"secret": "t"}), ((), {"name": "d"})],
)
def test_record_repr_eq_hash_fields_as_dataclasses_makes_them(args, kwargs):
    plain_cls, record_cls = _twins()
    a, b = plain_cls(*args, **kwargs), record_cls(*args, **kwargs)
    assert repr(a) == repr(b)  # same qualname and text, repr=False fields left out
    assert hash(a) == hash(b)  # the hash of the compared fields' tuple
    assert [f.name for f in dataclasses.fields(a)] == [f.name for f in dataclasses.fields(b)]
    assert dataclasses.astuple(a) == dataclasses.astuple(b) and b.made == 3 and b.double == a.double
    assert list(inspect.signature(plain_cls.__init__).parameters) == list(
        inspect.signature(record_cls.__init__).parameters
    )
    twin = record_cls(*args, **kwargs)
    assert b == twin and hash(b) == hash(twin) and b is not twin
    assert (b == a) is False and b != a  # another class is never equal, as dataclasses has it
    # compare=False fields are left out of eq and hash; a compared field changes both
    assert dataclasses.replace(b, seen={"x": 1}) == b
    assert dataclasses.replace(b, size=99) != b
    assert copy.copy(b) == b and copy.deepcopy(b) == b


def test_planner_records_pickle_and_copy():
    fig = Figure(5, "five", keys=("context",), parts={"a": 5})
    run = RunSettings(context=4096)
    for value in (fig, run):
        assert pickle.loads(pickle.dumps(value)) == value and copy.deepcopy(value) == value
    assert pickle.loads(pickle.dumps(fig)).rule == "five"


def test_record_instances_are_frozen_and_slotted():
    _, record_cls = _twins()
    box = record_cls("a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        box.size = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del box.size  # type: ignore[misc]
    assert not hasattr(box, "__dict__") and record_cls.__dataclass_params__.frozen


def test_record_without_eq_compares_by_identity_as_dataclasses_does():
    plain_cls, record_cls = _twins(eq=False)
    a, b = record_cls("a"), record_cls("a")
    assert a != b and a == a and hash(a) != hash(b)
    assert plain_cls("a") != plain_cls("a")
    assert repr(a) == repr(plain_cls("a"))


def test_record_repr_of_a_cycle_does_not_recurse():
    @record
    class Node:
        items: list

    node = Node([])
    node.items.append(node)
    assert repr(node) == "test_record_repr_of_a_cycle_does_not_recurse.<locals>.Node(items=[...])"
