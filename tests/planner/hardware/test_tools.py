"""run_tool with real processes: missing tool, timeout, non-zero exit, empty and garbage output; small files."""

import sys

from planner.hardware.tools import find_tool, read_int, read_small, run_tool


def test_a_missing_tool_is_named():
    out = run_tool(("surely-not-a-gpu-tool-xyz", "--json"))
    assert not out.ok and out.error == "surely-not-a-gpu-tool-xyz is not installed"


def test_output_and_exit_status():
    out = run_tool((sys.executable, "-c", "print('{\"card0\": {}}')"))
    assert out.ok and out.stdout.strip() == '{"card0": {}}'
    out = run_tool((sys.executable, "-c", "import sys; sys.stderr.write('ERROR: no device\\n'); sys.exit(3)"))
    assert not out.ok and out.error.endswith("exited with status 3: ERROR: no device")
    assert run_tool((sys.executable, "-c", "pass")).error.endswith("printed nothing")


def test_a_slow_tool_times_out():
    out = run_tool((sys.executable, "-c", "import time; time.sleep(5)"), timeout=0.3)
    assert not out.ok and out.error.endswith("timed out after 0.3 s")


def test_undecodable_output_is_replaced_not_raised():
    out = run_tool((sys.executable, "-c", "import sys; sys.stdout.buffer.write(b'VRAM \\xff\\xfe')"))
    assert out.ok and out.stdout.startswith("VRAM ")


def test_the_environment_is_c_locale():
    out = run_tool((sys.executable, "-c", "import os; print(os.environ['LC_ALL'])"))
    assert out.stdout.strip() == "C"


def test_find_tool():
    assert find_tool(sys.executable) is not None
    assert find_tool("surely-not-a-gpu-tool-xyz") is None


def test_small_files(tmp_path):
    (tmp_path / "total").write_text("25769803776\n")
    (tmp_path / "vendor").write_text("0x1002\n")
    (tmp_path / "garbage").write_text("N/A\n")
    assert read_int(tmp_path / "total") == 25769803776
    assert read_int(tmp_path / "vendor") == 0x1002
    assert read_int(tmp_path / "garbage") is None
    assert read_int(tmp_path / "absent") is None
    assert read_small(tmp_path) is None  # a folder, not a file
