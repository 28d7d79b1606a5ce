"""README's public-log accuracy section is generated from data/public_logs and up to date."""

from planner.public_logs.records import ENGINES, load_records
from scripts import server_accuracy


def test_readme_section_is_up_to_date():
    text = server_accuracy.README.read_text(encoding="utf-8")
    section = server_accuracy.render()
    assert server_accuracy.START in text and server_accuracy.END in text
    assert server_accuracy.update(text, section) == text, "run: python -m scripts.server_accuracy"
    assert server_accuracy.main(["--check"]) == 0


def test_one_table_per_engine_with_the_log_counts():
    section = server_accuracy.render()
    for engine in ENGINES:
        name = server_accuracy.NAMES[engine]
        assert f"### {name}" in section
        assert f"{len(load_records(engine))} public log(s)" in section
    # the sparse engines list every log with its link
    for engine in ("sglang", "trtllm"):
        for r in load_records(engine):
            assert r.url in section
    assert "Targets on the held-out half" in section and "NOT met" not in section
