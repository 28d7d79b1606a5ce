"""The Bit widths page (AppTest): the table and chart for every format, URL seeding, downloads, bad input."""

import csv
import io
import json
from pathlib import Path

import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from planner.catalog import load_catalog
from planner.fit import budget_from_gpu, budget_from_size
from planner.fit.bit_widths import RECORD_COLUMNS, bit_width_candidates, bit_width_table, quality_sources
from planner.memory.estimate import RunSettings

APP = str(Path(__file__).resolve().parents[3] / "app.py")
PAGE = "ui/pages/bit_widths.py"
LLAMA = "meta-llama/Llama-3.1-8B"
GIB = 1 << 30


def _run(query=None):
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page(PAGE)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()


def _table(model_id, budget, engine=None, fmt="q4_k_m", **settings):
    spec = load_catalog()[model_id].spec()
    return bit_width_table(spec, engine, RunSettings(**settings), budget, bit_width_candidates(engine, [fmt]))


@pytest.fixture
def downloads(monkeypatch):
    """File name -> bytes of every download button the page draws."""
    files = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def record(self, path_or_data, mimetype, kind, filename=None):
        files[filename] = path_or_data if isinstance(path_or_data, bytes) else path_or_data.encode()
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)
    return files


def test_defaults_render_every_representative_format():
    at = _run()
    assert not at.exception
    assert at.title[0].value == "Bit widths"
    table = _table(LLAMA, budget_from_gpu("rtx-4090"), context=8192)
    frame = at.dataframe[0].value
    assert [f.removesuffix(" *") for f in frame["format"]] == [r.format_id for r in table.rows]
    assert "q4_k_m *" in list(frame["format"])  # the sidebar's format is marked
    for column in (
        "total GiB",
        "weights GiB",
        "KV cache GiB",
        "activations GiB",
        "overhead GiB",
        "headroom GiB",
    ):
        assert column in frame.columns
    first = table.rows[0]
    assert frame["total GiB"][0] == first.estimate.total / GIB
    assert frame["headroom GiB"][0] == first.fit.headroom_bytes / GIB
    assert at.success[0].value.startswith(f"**Most bits that fit: `{table.pick.format_id}`**")
    assert at.get("plotly_chart"), "the memory-against-bits chart is drawn"


def test_quality_and_speed_columns_come_from_the_planner():
    at = _run()
    frame = at.dataframe[0].value.set_index("format")
    table = _table(LLAMA, budget_from_gpu("rtx-4090"), context=8192)
    rows = {r.format_id: r for r in table.rows}
    assert frame.loc["q4_k_m *", "accuracy kept"] == f"{rows['q4_k_m'].retention.value:.1%}"
    assert frame.loc["bf16", "quality evidence"] == "16-bit baseline"
    assert frame.loc["q8_0", "accuracy kept"] == "100.1%"  # Unsloth's Gemma 3 27B: 71.60 / 71.5
    assert frame.loc["q8_0", "quality evidence"] == "1 figure at 27.4B"
    assert frame.loc["q4_k_m *", "decode tok/s (est.)"] == f"{rows['q4_k_m'].speed.decode_tokens_per_s:,.1f}"
    assert frame.loc["q4_k_m *", "quality source"] == "; ".join(
        t for t, _ in quality_sources(rows["q4_k_m"].retention)
    )


def test_a_small_gpu_changes_which_formats_fit():
    at = _run({"gpu_source": "Custom size", "vram": "6GiB"})
    assert not at.exception
    frame = at.dataframe[0].value
    table = _table(LLAMA, budget_from_size("6GiB"), context=8192)
    assert list(frame["fits"].str.startswith("yes")) == [r.fit.fits for r in table.rows]
    assert frame["fits"][0] == "no"  # bf16
    assert (frame["decode tok/s (est.)"] == "-").all()  # a custom size has no bandwidth
    assert at.success[0].value.startswith(f"**Most bits that fit: `{table.pick.format_id}`**")


def test_nothing_fits_says_so():
    at = _run({"model": "meta-llama/Llama-3.1-405B-Instruct"})
    assert not at.exception
    assert at.error[0].value.startswith("**No format fits**")
    assert not at.dataframe[0].value["fits"].str.startswith("yes").any()


def test_url_parameters_seed_engine_and_settings():
    at = _run({"engine": "vllm", "format": "awq-int4", "context": "16k", "batch": "8"})
    assert not at.exception
    frame = at.dataframe[0].value
    assert set(frame["engine"]) == {"vllm"}
    table = _table(LLAMA, budget_from_gpu("rtx-4090"), "vllm", "awq-int4", context=16384, batch=8)
    assert [f.removesuffix(" *") for f in frame["format"]] == [r.format_id for r in table.rows]
    assert "awq-int4 *" in list(frame["format"])
    assert "16,384 tokens x 8 sequences" in at.markdown[0].value


def test_formats_the_engine_cannot_run_are_listed_with_the_reason():
    at = _run({"engine": "vllm", "format": "q4_k_m"})
    assert not at.exception
    assert "q4_k_m *" not in list(at.dataframe[0].value["format"])
    assert any("Left out" in c.value and "vllm does not load q4\\_k\\_m" in c.value for c in at.caption)


def test_downloads_are_the_planners_table(downloads):
    at = _run()
    assert not at.exception
    assert [b.label for b in at.get("download_button")] == ["Download table (CSV)", "Download table (JSON)"]
    table = _table(LLAMA, budget_from_gpu("rtx-4090"), context=8192)
    data = json.loads(downloads["meta-llama--Llama-3.1-8B-bit-widths.json"])
    assert data == json.loads(json.dumps(table.to_dict()))
    assert data["pick"] == table.pick.format_id
    rows = list(csv.DictReader(io.StringIO(downloads["meta-llama--Llama-3.1-8B-bit-widths.csv"].decode())))
    assert list(rows[0]) == list(RECORD_COLUMNS)
    for row, expected in zip(rows, table.rows, strict=True):
        assert row["format"] == expected.format_id
        assert int(row["total"]) == expected.estimate.total
        assert int(row["headroom"]) == expected.fit.headroom_bytes
        assert row["fits"] == str(expected.fit.fits)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"gpu_source": "Custom size", "vram": "24g"}, "ambiguous"),
        ({"gpu_source": "Custom size", "vram": "2PiB"}, "No GPU to compare against"),
        ({"gpu_source": "Detected (NVML)"}, "No GPU to compare against"),
    ],
)
def test_bad_inputs_give_a_message_and_no_traceback(query, message, monkeypatch):
    import planner.fit.budget as budget
    from planner.hardware.live import LiveReport

    monkeypatch.setattr(
        budget, "read_live_gpus", lambda nvml=None: LiveReport(False, "no NVIDIA GPU: test", None, None, ())
    )
    at = _run(query)
    assert not at.exception
    assert message in " ".join(e.value for e in at.error)
    assert not at.dataframe


def test_broken_upload_shows_a_message():
    at = _run({"source": "Upload config.json"})
    at.sidebar.get("file_uploader")[0].set_value(("config.json", b"\x00\xff", "application/json"))
    at.run()
    assert not at.exception
    assert at.sidebar.error
    assert any("No model to plan yet" in i.value for i in at.info)
