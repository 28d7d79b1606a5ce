"""A figure's rule may be made on first read: it is then text everywhere a reader looks."""

import dataclasses
import pickle

import pytest

from planner.memory.figure import Figure


def test_a_rule_function_is_called_once_on_first_read():
    calls = []

    def rule():
        calls.append(1)
        return "2 layers x 4 B = 8 B"

    fig = Figure(8, rule, parts={"full": 8})
    assert calls == []
    assert fig.rule == "2 layers x 4 B = 8 B" and fig.rule == fig.as_dict()["rule"]
    assert calls == [1]
    assert fig == Figure(8, "2 layers x 4 B = 8 B", parts={"full": 8})
    assert dataclasses.replace(fig, bytes=9).rule == "2 layers x 4 B = 8 B"
    assert pickle.loads(pickle.dumps(Figure(1, lambda: "made"))).rule == "made"


def test_figures_stay_frozen():
    fig = Figure(1, "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        fig.rule = "y"
