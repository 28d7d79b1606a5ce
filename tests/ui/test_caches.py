"""Every Streamlit cache of the app is bounded: a hosted page's memory must not grow with its visitors' inputs.

``st.cache_data`` and ``st.cache_resource`` keep every distinct argument forever unless given
``max_entries``; a Hub id typed by each visitor would then be one more model in memory.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAMES = ("cache_data", "cache_resource")
SOURCES = [ROOT / "app.py", *sorted((ROOT / "ui").rglob("*.py"))]


def _cache_calls(tree: ast.AST):
    """``st.cache_data(...)`` calls and bare ``@st.cache_data`` decorators (each once)."""
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    for node in ast.walk(tree):
        func = node.func if isinstance(node, ast.Call) else None
        bare = isinstance(node, ast.Attribute) and node.attr in NAMES and id(node) not in called
        if bare or (isinstance(func, ast.Attribute) and func.attr in NAMES):
            yield node


def test_every_streamlit_cache_has_an_entry_limit():
    unbounded, found = [], 0
    for path in SOURCES:
        for node in _cache_calls(ast.parse(path.read_text(encoding="utf-8"))):
            found += 1
            keywords = {k.arg: k.value for k in node.keywords} if isinstance(node, ast.Call) else {}
            limit = keywords.get("max_entries")
            if not (
                isinstance(limit, ast.Constant) and isinstance(limit.value, int) and 0 < limit.value <= 1024
            ):
                unbounded.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found >= 2  # the Hub model and the context curve caches, at least
    assert not unbounded, f"caches without max_entries (1..1024): {unbounded}"
