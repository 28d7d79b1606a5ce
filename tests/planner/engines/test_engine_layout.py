"""Each engine owns its rules in its own package and borrows nothing from a sibling engine."""

import ast
from pathlib import Path

import planner.engines
from planner.engines import engine_ids, get_engine

ENGINES_DIR = Path(planner.engines.__file__).parent
PACKAGES = sorted(p.name for p in ENGINES_DIR.iterdir() if (p / "__init__.py").exists())
RULE_MODULES = ("engine.py", "kv.py", "activations.py", "overhead.py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return out


def test_the_three_engines_are_packages_registered_in_order():
    assert {"transformers", "vllm", "llamacpp"} <= set(PACKAGES)
    assert engine_ids()[:3] == ["transformers", "vllm", "llama.cpp"]


def test_every_engine_package_holds_its_own_rules():
    for name in PACKAGES:
        missing = [m for m in RULE_MODULES if not (ENGINES_DIR / name / m).exists()]
        assert not missing, f"planner/engines/{name}/ lacks {missing}"


def test_no_engine_imports_a_sibling_engine():
    for name in PACKAGES:
        for path in (ENGINES_DIR / name).rglob("*.py"):
            for module in _imports(path):
                parts = module.split(".")
                if parts[:2] == ["planner", "engines"] and len(parts) > 2 and parts[2] in PACKAGES:
                    assert parts[2] == name, f"{path.relative_to(ENGINES_DIR)} imports {module}"


def test_shared_modules_import_no_engine():
    shared = [
        ENGINES_DIR / f
        for f in ("common.py", "constants.py", "shape.py", "base.py", "registry.py", "server.py")
    ]
    shared.append(ENGINES_DIR.parents[0] / "memory" / "kv.py")
    for path in shared:
        for module in _imports(path):
            parts = module.split(".")
            assert not (parts[:2] == ["planner", "engines"] and len(parts) > 2 and parts[2] in PACKAGES), (
                f"{path.name} imports the engine module {module}"
            )


def test_aliases_name_the_same_engine():
    assert get_engine("llamacpp") is get_engine("LLAMA.CPP") is get_engine("llama-cpp")
    assert get_engine("hf") is get_engine("transformers")
