"""The hosting recipe: what Streamlit Community Cloud, Hugging Face Spaces and Docker read from the repository.

No host and no docker engine are reachable here, so the metadata each one reads is checked against its
documentation, and the Dockerfile's start command is run as it is (port changed) on this machine:

* Streamlit Community Cloud: the first dependency file found in the order ``uv.lock``, ``Pipfile``,
  ``environment.yml``, ``requirements.txt``, ``pyproject.toml`` (streamlit/docs, content/deploy/
  community-cloud/deploy-your-app/app-dependencies.md); ``.streamlit/config.toml``; Python from the
  deploy dialog (default 3.12).
* Hugging Face Spaces: the README's YAML front matter (hub-docs, docs/hub/spaces-config-reference.md);
  the built-in Streamlit SDK is deprecated for new Spaces (docs/hub/spaces-sdks-streamlit.md: "pick the
  Docker SDK"), so ``sdk: docker`` with ``app_port`` and the root ``Dockerfile``, run as user 1000
  (docs/hub/spaces-sdks-docker.md).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import subprocess
import sys
import time
import tomllib
import urllib.request
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from benchmarks.processes import free_port, stop_process

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def _front_matter() -> dict:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n"), "README.md must open with the Spaces YAML block"
    return yaml.safe_load(text.split("---\n", 2)[1])


def _instructions() -> list[tuple[str, str]]:
    """Dockerfile instructions (continuations joined, comments dropped) as (KEYWORD, arguments)."""
    lines, current = [], ""
    for raw in DOCKERFILE.splitlines():
        if raw.lstrip().startswith("#") and not current:
            continue
        current += raw.rstrip("\\").strip() + " "
        if not raw.rstrip().endswith("\\"):
            if current.strip():
                keyword, _, rest = current.strip().partition(" ")
                lines.append((keyword.upper(), rest.strip()))
            current = ""
    return lines


def _requirements() -> list[Requirement]:
    out = []
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(Requirement(line))
    return out


def _cmd() -> list[str]:
    cmd = [args for keyword, args in _instructions() if keyword == "CMD"]
    assert len(cmd) == 1
    return json.loads(cmd[0])


# --------------------------------------------------------------------------- Streamlit Community Cloud


def test_community_cloud_uses_requirements_txt():
    # Files it would pick before requirements.txt (in the entrypoint's folder, which is the root).
    assert not [f for f in ("uv.lock", "Pipfile", "environment.yml") if (ROOT / f).exists()]
    assert (ROOT / "app.py").is_file()


def test_requirements_cover_every_import_of_the_app_and_bring_no_torch():
    names = {r.name.lower().replace("_", "-") for r in _requirements()}
    assert not names & {"torch", "transformers", "bitsandbytes", "accelerate"}
    dists = packages_distributions()
    stdlib = set(sys.stdlib_module_names)
    local = {"planner", "ui", "app", "verify", "tests", "scripts", "benchmarks"}
    # The verifier's packages: imported lazily, only where they are installed (the page renders without
    # them: tests/ui/test_no_torch.py), and kept out of the hosted page's requirements on purpose.
    verifier = {"torch", "transformers", "accelerate", "bitsandbytes", "hqq"}
    missing = set()
    for path in [ROOT / "app.py", *(ROOT / "ui").rglob("*.py"), *(ROOT / "planner").rglob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        optional = _optional_imports(tree)
        for node in ast.walk(tree):
            if id(node) in optional:
                continue
            if isinstance(node, ast.Import):
                tops = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                if top in stdlib or top in local or top in verifier or top == "__future__":
                    continue
                provided = {d.lower().replace("_", "-") for d in dists.get(top, [])}
                if not provided & names and not _installed_with(provided, names):
                    missing.add(f"{top} ({path.relative_to(ROOT)})")
    assert not missing, f"imported but not in requirements.txt: {sorted(missing)}"


def _optional_imports(tree: ast.AST) -> set[int]:
    """Imports inside ``try`` blocks that catch ImportError (or any Exception): optional extras such as
    ``amdsmi``, which the page does without."""
    catching = ("ImportError", "ModuleNotFoundError", "Exception")
    out: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Try):
            continue
        names = set()
        for handler in node.handlers:
            kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
            names |= {k.id for k in kinds if isinstance(k, ast.Name)} | (
                {"Exception"} if handler.type is None else set()
            )
        if names & set(catching):
            out |= {
                id(n)
                for stmt in node.body
                for n in ast.walk(stmt)
                if isinstance(n, (ast.Import, ast.ImportFrom))
            }
    return out


def _installed_with(provided: set[str], names: set[str]) -> bool:
    """Whether a distribution comes in as a dependency of a listed one (pandas brings numpy...)."""
    from importlib.metadata import requires

    for name in names:
        for req in requires(name) or []:
            if Requirement(req).name.lower().replace("_", "-") in provided and "extra ==" not in req:
                return True
    return False


def test_streamlit_config_keeps_the_default_port_and_runs_headless():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert "port" not in config.get("server", {})  # Spaces and Community Cloud pick the port
    assert config["server"]["headless"] is True
    assert config["client"]["showErrorDetails"] == "none"


# --------------------------------------------------------------------------- Hugging Face Spaces


def test_spaces_front_matter_selects_the_docker_sdk_on_the_apps_port():
    meta = _front_matter()
    assert meta["sdk"] == "docker"
    assert meta["app_port"] == 8501 == _port(_cmd())
    assert meta["colorFrom"] in {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}
    assert meta["colorTo"] in {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}
    assert isinstance(meta["title"], str) and meta["title"]


def _port(cmd: list[str]) -> int:
    return int(next(a.split("=", 1)[1] for a in cmd if a.startswith("--server.port=")))


# --------------------------------------------------------------------------- Dockerfile


def test_dockerfile_installs_only_the_apps_requirements():
    runs = [args for keyword, args in _instructions() if keyword == "RUN"]
    installs = [r for r in runs if "pip install" in r]
    assert len(installs) == 1
    words = shlex.split(installs[0])
    assert words[words.index("-r") + 1] == "requirements.txt"
    assert words.count("-r") == 1 and not [w for w in words if re.match(r"^(torch|transformers)", w)]
    copies = [args for keyword, args in _instructions() if keyword == "COPY"]
    assert copies[0].split()[-2:] == ["requirements.txt", "."]  # cached layer: deps before code


def test_dockerfile_runs_as_user_1000_on_all_interfaces_read_only():
    instructions = _instructions()
    base = next(args for keyword, args in instructions if keyword == "FROM")
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim", base)  # the Python the tests run on
    assert f"{sys.version_info.major}.{sys.version_info.minor}" == "3.11"
    assert any(k == "USER" and a == "user" for k, a in instructions)
    assert any(k == "RUN" and "--uid 1000" in a for k, a in instructions)
    env = " ".join(a for k, a in instructions if k == "ENV")
    assert "HF_HOME=/home/user/" in env
    assert "VRAM_PLANNER_ALLOW_RUNS" not in env  # read-only unless the operator passes -e ...=1
    cmd = _cmd()
    assert cmd[:4] == ["python", "-m", "streamlit", "run"] and cmd[4] == "app.py"
    assert "--server.address=0.0.0.0" in cmd
    assert any(k == "EXPOSE" and a == str(_port(cmd)) for k, a in instructions)


def test_dockerignore_keeps_what_the_app_reads():
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for needed in ("app.py", "ui", "planner", "data", ".streamlit", "requirements.txt", "verify"):
        assert needed not in ignored and f"/{needed}" not in ignored


def test_the_dockerfiles_start_command_serves_the_page_read_only(tmp_path):
    """The image's CMD, run here as written (python from this machine, a free port, loopback)."""
    port = free_port()
    cmd = [a for a in _cmd() if not a.startswith(("--server.port=", "--server.address="))]
    cmd = [sys.executable if cmd[0] == "python" else cmd[0], *cmd[1:]]
    cmd += [f"--server.port={port}", "--server.address=127.0.0.1"]
    env = {k: v for k, v in os.environ.items() if k != "VRAM_PLANNER_ALLOW_RUNS"}
    env["HF_HOME"] = str(tmp_path / "hf")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    assert r.read() == b"ok"
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the app did not start: {proc.stderr.read().decode()[-2000:]}")
                time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            assert b"<title>" in r.read()
    finally:
        stop_process(proc)
