"""The dashboard with the Ollama and MLX engines (AppTest): every page renders, the sidebar offers them,
and the Fit check page shows the launch command in a code block (``st.code``, which has a copy button)."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from planner.engines import engine_ids

APP = str(Path(__file__).resolve().parents[3] / "app.py")
PAGES = (
    "ui/pages/fit_check.py",
    "ui/pages/anatomy.py",
    "ui/pages/bit_widths.py",
    "ui/pages/context.py",
    "ui/pages/what_can_i_run.py",
    "ui/pages/my_gpus.py",
    "ui/pages/verify.py",
)
ENGINES = (("ollama", "q4_k_m"), ("mlx", "mlx-4bit"))


def _run(page, **query):
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page(page)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def test_the_sidebar_offers_every_registered_engine():
    at = _run(PAGES[0])
    engine_box = at.sidebar.selectbox(key="engine")
    assert {"ollama", "mlx"} <= set(engine_box.options)
    assert engine_box.options == ["auto", *engine_ids()]
    formats = at.sidebar.selectbox(key="format").options
    assert {"mlx-4bit", "mlx-8bit", "mlx-mxfp4", "mxfp4_moe"} <= set(formats)


@pytest.mark.parametrize(("engine", "fmt"), ENGINES)
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_with_the_engine(page, engine, fmt):
    at = _run(page, model="meta-llama/Llama-3.1-8B-Instruct", engine=engine, format=fmt)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


@pytest.mark.parametrize(
    ("engine", "fmt", "expected"),
    [
        ("ollama", "q4_k_m", "PARAMETER num_ctx 8192"),
        ("mlx", "mlx-4bit", "mlx_lm.generate"),
        ("llama.cpp", "q4_k_m", "llama-server -m Llama-3.1-8B-Instruct-Q4_K_M.gguf"),
        ("transformers", "bnb-nf4", "BitsAndBytesConfig(load_in_4bit=True"),
    ],
)
def test_fit_check_shows_the_launch_command(engine, fmt, expected):
    at = _run(PAGES[0], model="meta-llama/Llama-3.1-8B-Instruct", engine=engine, format=fmt)
    assert not at.exception
    assert any(h.value == "Launch command" for h in at.subheader)
    (code,) = [c for c in at.code if expected in c.value]
    assert code.language == ("python" if engine == "transformers" else "bash")


def test_fit_check_shows_the_mmproj_component_for_a_vision_model():
    at = _run(PAGES[0], model="google/gemma-3-4b-it", engine="llama.cpp", format="q4_k_m")
    assert not at.exception
    shown = " ".join(m.value for m in at.markdown)
    assert "GPU vision projector (mmproj)" in shown
    assert any("--mmproj" in c.value for c in at.code)


def test_a_link_with_an_ollama_tag_opens_its_model_format_and_engine():
    """``model=llama3.1:8b`` means what ``--model llama3.1:8b`` means in the CLI: the tag map's model and
    format (data/ollama_tags.json), on Ollama; a format or engine given in the link still wins."""
    from planner.ollama_tags import require_tag

    tag = require_tag("llama3.1:8b")
    at = _run(PAGES[0], model="llama3.1:8b")
    assert not at.exception and not at.warning, [w.value for w in at.warning]
    assert at.sidebar.selectbox(key="model").value == tag.model
    assert at.sidebar.selectbox(key="format").value == tag.format
    assert at.sidebar.selectbox(key="engine").value == "ollama"
    assert at.query_params["model"] == tag.model

    at = _run(PAGES[0], model="llama3.1:8b", format="q8_0", engine="llama.cpp")
    assert at.sidebar.selectbox(key="format").value == "q8_0"
    assert at.sidebar.selectbox(key="engine").value == "llama.cpp"


def test_an_ollama_tag_typed_in_the_hub_box_opens_its_model_format_and_engine():
    """Typed where a Hub id goes, a known tag opens what the CLI's ``--model llama3.1:8b`` plans: the tag's
    catalog model and format on Ollama, and says so; the Hub box is emptied (switching back stays put)."""
    from planner.ollama_tags import require_tag

    tag = require_tag("llama3.1:8b")
    at = _run(PAGES[0], source="hub")
    at.sidebar.text_input(key="hub").input("llama3.1:8b").run()
    assert not at.exception
    assert at.sidebar.radio(key="source").value == "catalog"
    assert at.sidebar.selectbox(key="model").value == tag.model
    assert at.sidebar.selectbox(key="format").value == tag.format
    assert at.sidebar.selectbox(key="engine").value == "ollama"
    assert any("Ollama tag `llama3.1:8b`" in i.value for i in at.sidebar.info)
    assert at.query_params["model"] == tag.model

    at.sidebar.radio(key="source").set_value("hub").run()
    assert at.sidebar.radio(key="source").value == "hub"
    assert at.sidebar.text_input(key="hub").value == ""
