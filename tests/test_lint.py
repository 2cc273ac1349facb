"""The code base stays ruff-clean (configured in pyproject.toml)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise", "."],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_engine_never_imports_flask():
    offenders = [p for p in (ROOT / "engine").rglob("*.py")
                 if "import flask" in p.read_text().lower() or "from flask" in p.read_text().lower()]
    assert offenders == []
