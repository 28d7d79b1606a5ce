"""Shared links: a GPU id works where the widget shows names; unknown values warn instead of vanishing."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1].parent / "app.py")


def _run(query):
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def _value(at, key):
    return next(s.value for s in at.selectbox if s.key == key)


def test_a_gpu_id_in_the_link_selects_that_gpu():
    at = _run({"gpu": "RTX-3090"})
    assert not at.exception
    assert _value(at, "gpu") == "rtx-3090"
    assert not at.warning


def test_unknown_values_are_named_and_the_defaults_shown():
    at = _run({"format": "q9_z", "model": "nobody/nothing", "gpu": "a-gpu-from-the-future", "engine": "tgi"})
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    for value in ("q9_z", "nobody/nothing", "a-gpu-from-the-future", "tgi"):
        assert f"`{value}`" in warnings
    assert _value(at, "format") == "q4_k_m" and _value(at, "gpu") == "rtx-4090"


def test_an_overlong_value_is_shortened_in_the_message():
    at = _run({"format": "x" * 500})
    assert not at.exception
    assert any("..." in w.value and len(w.value) < 200 for w in at.warning)
