"""The README's test command is what CI runs, and it installs what every test needs."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _readme_test_command() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)\n```", section, re.DOTALL)
    (command,) = [b for b in blocks if "pytest" in b]
    return command.strip()


def test_ci_runs_exactly_the_readme_test_command():
    command = _readme_test_command()
    lines = [
        line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")
    ]
    assert lines[-1] == command == "scripts/test-setup && python3 -m pytest"


def test_setup_installs_the_test_requirements_and_chromium():
    setup = ROOT / "scripts" / "test-setup"
    text = setup.read_text()
    assert setup.stat().st_mode & 0o111, "scripts/test-setup must be executable"
    assert "-r requirements-test.txt" in text and "apt-get install" in text and "chromium" in text


def test_every_optional_test_import_is_a_test_requirement():
    # what tests import with pytest.importorskip must be installed by requirements-test.txt
    # (requirements-test.txt includes requirements.txt)
    reqs = (ROOT / "requirements-test.txt").read_text() + (ROOT / "requirements.txt").read_text()
    names = {m.group(1).lower() for m in re.finditer(r"^([A-Za-z0-9_.-]+)\s*[=<>]", reqs, re.MULTILINE)}
    distribution = {"pynvml": "nvidia-ml-py"}  # import name -> the package that installs it
    for path in (ROOT / "tests").rglob("*.py"):
        for module in re.findall(r"importorskip\(\s*[\"']([\w.]+)[\"']", path.read_text()):
            top = module.split(".")[0]
            top = distribution.get(top, top).replace("_", "-")
            assert top in names or top.replace("-", "_") in names, f"{path.name} needs {module}"
