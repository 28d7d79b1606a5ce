"""The app never imports torch (the hosted page has none): every page rendered in a fresh interpreter."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "ui" / "pages").glob("*.py"))

SCRIPT = f"""
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app.py", default_timeout=120)
at.run()
for page in {PAGES!r}:
    at.switch_page(page)
    at.run()
    assert not at.exception, (page, at.exception)
print(sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers", "bitsandbytes")))
"""


def test_no_page_imports_torch():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
