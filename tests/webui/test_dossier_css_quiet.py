"""`meldcode export ID --format pdf` writes no WeasyPrint warning on stderr (issue 14, a fresh
tester): the dossier's print style sheet had `word-break: break-word`, which WeasyPrint rejects
("Ignored `word-break: break-word` ... invalid value") on every export. overflow-wrap: anywhere
does the wrapping (tests/webui/test_dossier_long_text.py)."""

from __future__ import annotations

from tests.conftest import meldcode_cli


def test_a_pdf_export_writes_no_weasyprint_warning(sqlite_people, sqlite_url, tmp_path):
    from engine import cases

    case = cases.start_case(sqlite_people["mw"], {"client_ref": "C-CSS", "reason": "zorgen"})
    out = tmp_path / "dossier.pdf"
    result = meldcode_cli(
        "export",
        str(case["id"]),
        "--format",
        "pdf",
        "-o",
        str(out),
        env={"MELDCODE_DATABASE_URL": sqlite_url},
    )
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().startswith(b"%PDF")
    assert "Ignored" not in result.stderr and "invalid value" not in result.stderr, result.stderr
    assert result.stderr == "", result.stderr
