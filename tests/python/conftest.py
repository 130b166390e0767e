# Shared helpers of the Python module's tests: where the repository and the CLI are, and running the CLI.
# CTest sets HAWKEYE_SOURCE_DIR, HAWKEYE_CLI and PYTHONPATH (tests/CMakeLists.txt); by hand:
#   PYTHONPATH=build/python HAWKEYE_CLI=build/hawkeye python3 -m pytest tests/python
import json
import os
import subprocess
from pathlib import Path

import pytest

SOURCE_DIR = Path(os.environ.get("HAWKEYE_SOURCE_DIR", Path(__file__).resolve().parents[2]))
CLI = Path(os.environ.get("HAWKEYE_CLI", SOURCE_DIR / "build" / "hawkeye"))
EXAMPLES = SOURCE_DIR / "examples"


def run_cli(*args, check=True):
    """Runs the hawkeye CLI; returns (exit status, stdout, stderr)."""
    proc = subprocess.run([str(CLI), "--quiet", *map(str, args)], capture_output=True, text=True,
                          cwd=SOURCE_DIR, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"hawkeye {' '.join(map(str, args))}: exit {proc.returncode}\n{proc.stderr}")
    return proc.returncode, proc.stdout, proc.stderr


def jsonl(text):
    """The records of JSON Lines output."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="session")
def examples():
    """The eight example images, as the CLI lists them (sorted)."""
    paths = sorted(EXAMPLES.glob("*.png"))
    assert len(paths) == 8, paths
    return paths


@pytest.fixture(autouse=True)
def _in_source_dir(monkeypatch):
    # Relative paths ("examples/") mean the same to the module and to the CLI.
    monkeypatch.chdir(SOURCE_DIR)
