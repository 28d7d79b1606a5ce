"""The app runs headless (AppTest): catalog, upload and bad input, never a traceback."""

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from planner.catalog import load_catalog
from ui.charts import parameters_by_role_figure

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _run(query=None, page="ui/pages/anatomy.py"):
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.switch_page(page)
    return at.run()


def test_fit_check_is_the_default_page():
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "Fit check"


def test_default_view_shows_a_catalog_model():
    at = _run()
    assert not at.exception
    assert at.title[0].value == "Model anatomy"
    total = next(m for m in at.metric if m.label == "Total parameters")
    assert total.value.endswith(" B")
    assert len(at.dataframe) == 2


def test_url_selects_the_model():
    model_id = sorted(load_catalog(), key=lambda i: load_catalog()[i].reference.total)[0]
    at = _run({"model": model_id})
    assert not at.exception
    expected = load_catalog()[model_id].spec().total_parameters
    total = next(m for m in at.metric if m.label == "Total parameters")
    assert total.value == f"{expected / 1e9:,.3f} B"


def test_hub_source_offline_shows_a_message(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    at = _run({"source": "Hub id", "hub": "someone/not-cached-anywhere"})
    assert not at.exception
    assert at.error, "expected an error message on the page"


@pytest.mark.parametrize("model", ["../../etc/passwd", "a" * 300])
def test_hostile_hub_ids_are_refused_cleanly(model):
    at = _run({"source": "Hub id", "hub": model})
    assert not at.exception
    # A path is refused by the Hub id check; an overlong id by the link, which names the parameter.
    assert at.error or any("`hub=" in w.value and "300 characters" in w.value for w in at.warning)
    assert not at.metric


def test_role_figure_has_one_bar_per_role():
    spec = next(iter(load_catalog().values())).spec()
    fig = parameters_by_role_figure(spec)
    assert len(fig.data[0].y) == len(spec.parameters_by_role())
    assert json.loads(fig.to_json())  # serialisable for the browser


def test_hub_box_never_reads_server_files(tmp_path):
    """Text typed on the shared page is a Hub id, never a path on the server."""
    (tmp_path / "config.json").write_text(
        '{"model_type": "llama", "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2, '
        '"num_attention_heads": 4, "vocab_size": 100}'
    )
    at = _run({"source": "Hub id", "hub": str(tmp_path)})
    assert not at.exception
    assert not at.metric, "a local config.json was read from the server"
    assert at.error
