"""README's "Claims checked" section is generated, up to date, and keeps its units apart."""

import re

import pytest

from scripts import claims


@pytest.fixture(scope="module")
def section():
    return claims.render()


def test_readme_section_is_up_to_date(section):
    text = claims.README.read_text(encoding="utf-8")
    assert claims.START in text and claims.END in text
    assert claims.update(text, section) == text, "run: python -m scripts.claims"
    assert claims.main(["--check"]) == 0


def test_every_claim_has_a_verdict_and_sources(section):
    assert section.startswith(claims.START) and section.endswith(claims.END)
    assert section.count("### ") == 4 and section.count("**Verdict:**") == 4
    assert section.count("Sources: [") == 2  # the two quality claims list their publications
    assert "https://arxiv.org/abs/2411.02355" in section


def test_gb_only_never_gib(section):
    """The section states its unit once (GB = 10^9 bytes) and never prints GiB or MiB figures."""
    assert "GB means 10^9 bytes" in section
    assert not re.search(r"\d\s*(GiB|MiB)", section)


def test_update_replaces_only_between_the_markers():
    text = f"# Title\n\nbefore\n{claims.START}\nold\n{claims.END}\nafter\n"
    assert claims.update(text, f"{claims.START}\nnew\n{claims.END}") == (
        f"# Title\n\nbefore\n{claims.START}\nnew\n{claims.END}\nafter\n"
    )
    assert claims.update("# Title\n", "S") == "# Title\n\nS\n"
    with pytest.raises(SystemExit):
        claims.update(f"x {claims.START} y", "S")
