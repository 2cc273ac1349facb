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


def test_weasyprint_is_pinned_to_70_and_the_lock_agrees():
    """The PDF dossier and meldcode document are made with WeasyPrint 70 (its layout and
    its API as used in webui.documents): pyproject.toml asks for at
    least 70, uv.lock records the same requirement (so `uv lock --check` holds) and locks a
    version that meets it, and the installed one does too."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.version import Version

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = next(Requirement(r) for r in project["dependencies"]
                  if Requirement(r).name == "weasyprint")
    assert str(wanted.specifier) == ">=70", wanted
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    root = next(p for p in lock["package"] if p["name"] == "meldcode")
    locked_spec = next(d for d in root["metadata"]["requires-dist"] if d["name"] == "weasyprint")
    assert locked_spec["specifier"] == str(wanted.specifier)
    locked = next(p for p in lock["package"] if p["name"] == "weasyprint")
    assert Version(locked["version"]) in wanted.specifier
    import weasyprint

    assert Version(weasyprint.__version__) in wanted.specifier
