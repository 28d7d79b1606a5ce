"""Every page with figures warns, with the likely error, when the model is an approximate estimate."""

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[3] / "app.py")
PAGES = ["ui/pages/anatomy.py", "ui/pages/fit_check.py", "ui/pages/bit_widths.py", "ui/pages/context.py"]
UNKNOWN = {
    "model_type": "made_up_decoder",
    "hidden_size": 2048,
    "intermediate_size": 5632,
    "num_hidden_layers": 22,
    "num_attention_heads": 32,
    "num_key_value_heads": 4,
    "vocab_size": 32000,
}


@pytest.mark.parametrize("page", PAGES)
def test_an_unknown_architecture_is_marked_approximate_on_the_page(page, monkeypatch):
    monkeypatch.setenv("VRAM_PLANNER_META", "0")  # as on the hosted page: no torch
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page(page)
    at.query_params["source"] = "Upload config.json"
    at.run()
    at.sidebar.get("file_uploader")[0].set_value(
        ("config.json", json.dumps(UNKNOWN).encode(), "application/json")
    )
    at.run()
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert any(
        w.startswith("Approximate: architecture 'made_up_decoder' is not known") and "typical error ±" in w
        for w in warnings
    ), warnings


def test_a_catalog_model_shows_no_approximate_warning():
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("ui/pages/anatomy.py")
    at.run()
    assert not at.exception
    assert not any("pproximate" in w.value for w in at.warning)
    assert any("Tensors from hand-written builder" in m.value for m in at.markdown)
