"""engine/ and webui/ stay mypy-clean (configured in pyproject.toml's [tool.mypy]: the files,
Python 3.11, and which untyped third-party packages are let through)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_clean():
    # The cache in the checkout (git-ignored) makes a second run take seconds instead of a minute.
    result = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(ROOT / ".mypy_cache")],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
