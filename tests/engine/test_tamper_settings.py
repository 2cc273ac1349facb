"""Issue 11, break-it F8: the organisation's settings changed with the database open (server
stopped, no history key) are named by `meldcode verify --all` and never shown: a page uses the
value the admin log vouches for. A malformed value (another JSON type, no JSON, no UTF-8) is
no 500 anywhere: the setting takes its default. SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from engine import audit, cases, due, organisation, store
from tests.helpers import Client, config_problems, verify_all
from tests.helpers import text as page_text
from webui.cli import main as meldcode

GENUINE = {
    "organisatie_naam": "Zorggroep De Linde",
    "veilig_thuis_telefoon": "0800-2000",
    "veilig_thuis_regio_naam": "Veilig Thuis Utrecht",
    "beroepsgroep": "artsen",
    due.NORM_KEY: 5,
    "aandachtsfunctionarissen": [
        {
            "naam": "Fatma Yilmaz",
            "functie": "aandachtsfunctionaris",
            "telefoon": "06-12345678",
            "email": "f@linde.nl",
        }
    ],
}


def intrude(*statements: str) -> None:
    """SQL as a database writer runs it: no product code, no admin-log line."""
    with store.unit_of_work(write=True) as session:
        for sql in statements:
            session.execute(text(sql))


@pytest.fixture
def genuine(people):
    organisation.update(people["bh"], GENUINE)
    return people


# kind: (SQL, the key, what verify says, a value that must not reach a page, the genuine one)
TAMPERINGS = {
    "telefoon": (
        "UPDATE settings SET value = '\"0900-1234567\"' WHERE key = 'veilig_thuis_telefoon'",
        "veilig_thuis_telefoon",
        "wijkt af van het beheerlog",
    ),
    "aandachtsfunctionarissen": (
        'UPDATE settings SET value = \'[{"naam": "Indringer", "functie": "", '
        '"telefoon": "0900-666", "email": ""}]\' WHERE key = \'aandachtsfunctionarissen\'',
        "aandachtsfunctionarissen",
        "wijkt af van het beheerlog",
    ),
    "norm": (
        f"UPDATE settings SET value = '20' WHERE key = '{due.NORM_KEY}'",
        due.NORM_KEY,
        "wijkt af van het beheerlog",
    ),
    "norm_as_true": (  # JSON true is no 5, though Python says True == 1
        f"UPDATE settings SET value = 'true' WHERE key = '{due.NORM_KEY}'",
        due.NORM_KEY,
        "wijkt af van het beheerlog",
    ),
    "beroepsgroep": (
        "UPDATE settings SET value = '\"verpleegkundigen\"' WHERE key = 'beroepsgroep'",
        "beroepsgroep",
        "wijkt af van het beheerlog",
    ),
    "toegevoegd": (
        "INSERT INTO settings (key, value) VALUES ('veilig_thuis_regio_telefoon', '\"0900-666\"')",
        "veilig_thuis_regio_telefoon",
        "staat niet in het beheerlog (buiten het product toegevoegd)",
    ),
    "verwijderd": (
        "DELETE FROM settings WHERE key = 'veilig_thuis_regio_naam'",
        "veilig_thuis_regio_naam",
        "ontbreekt, maar het beheerlog legde haar vast",
    ),
}


@pytest.mark.parametrize("kind", sorted(TAMPERINGS))
def test_a_setting_changed_in_the_database_is_named_by_verify_and_not_used(genuine, kind, caplog):
    code, output = verify_all()
    assert code == 0 and "instelling" not in output, output
    before = organisation.current()  # read once: the verdict is cached, the change must undo it
    sql, key, words = TAMPERINGS[kind]
    intrude(sql)

    code, output = verify_all()
    assert code == 1, output
    assert f"instelling {key} {words}" in output
    found = config_problems()
    assert found == [p for p in found if p.startswith(f"instelling {key} ")]  # only that key

    with caplog.at_level(logging.WARNING, logger="meldcode.seals"):
        now = organisation.current()
    assert now == before  # the last genuine value (the default for one never set)
    assert "organisation setting not used" in caplog.text


def test_the_case_page_and_the_meldcode_show_the_genuine_number(genuine, app):
    case = cases.start_case(genuine["mw"], {"client_ref": "C-8", "reason": "zorgen"})
    intrude(
        "UPDATE settings SET value = '\"0900-1234567\"' WHERE key = 'veilig_thuis_telefoon'",
        "UPDATE settings SET value = '[{\"naam\": \"Indringer\"}]' WHERE key = 'aandachtsfunctionarissen'",
    )
    browser = Client(app)
    browser.login("mw")
    for path in (f"/casussen/{case['id']}", "/meldcode"):
        page = page_text(browser.get(path))
        assert "0800-2000" in page and "Fatma Yilmaz" in page, path
        assert "0900-1234567" not in page and "Indringer" not in page, path


def test_the_beheerders_next_change_is_used_again(genuine):
    intrude("UPDATE settings SET value = '\"Indringer BV\"' WHERE key = 'organisatie_naam'")
    assert organisation.current()["organisatie_naam"] == "Zorggroep De Linde"
    organisation.update(genuine["bh"], {"organisatie_naam": "Indringer BV"})  # the same text, now genuine
    assert organisation.current()["organisatie_naam"] == "Indringer BV"
    assert verify_all()[0] == 0


def test_a_forged_admin_log_line_vouches_for_nothing(genuine):
    """A settings_changed line inserted by hand has no valid keyed hash: the row it names
    stays a finding (and log_verify names the line)."""
    intrude(
        "UPDATE settings SET value = '\"0900-1234567\"' WHERE key = 'veilig_thuis_telefoon'",
        "INSERT INTO admin_log (at, \"user\", action, detail, hash) VALUES ('2026-01-05 10:00:00', "
        "'bh', 'settings_changed', '{\"settings\": {\"veilig_thuis_telefoon\": \"0900-1234567\"}}', "
        "'00')",
    )
    assert organisation.current()["veilig_thuis_telefoon"] == "0800-2000"
    code, output = verify_all()
    assert code == 1 and "instelling veilig_thuis_telefoon wijkt af van het beheerlog" in output


# --- malformed values: every page opens, the setting takes its default ------------------------

SQLITE_ONLY = {"geen_json", "geen_utf8"}  # PostgreSQL's json column refuses both
MALFORMED = {
    "getal_voor_lijst": ("aandachtsfunctionarissen", "'5'"),
    "lijst_voor_tekst": ("veilig_thuis_telefoon", "'[\"0800\"]'"),
    "object_voor_tekst": ("organisatie_naam", "'{\"a\": 1}'"),
    "lijst_van_getallen": ("aandachtsfunctionarissen", "'[1, \"x\", null]'"),
    "tekst_voor_norm": (due.NORM_KEY, "'\"vijf\"'"),
    "getal_voor_beroepsgroep": ("beroepsgroep", "'42'"),
    "null": ("veilig_thuis_regio_naam", "'null'"),
    "geen_json": ("veilig_thuis_regio_naam", "'{niet json'"),
    "geen_utf8": ("veilig_thuis_telefoon", "CAST(X'22FF22' AS TEXT)"),
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_a_malformed_setting_is_no_500_and_takes_its_default(people, app, db_url, kind, tmp_path):
    if kind in SQLITE_ONLY and not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's json column does not hold it")
    case = cases.start_case(people["mw"], {"client_ref": "C-9", "reason": "zorgen"})
    key, value = MALFORMED[kind]
    intrude(f"INSERT INTO settings (key, value) VALUES ('{key}', {value})")

    assert organisation.current()[key] == organisation.DEFAULTS[key]
    browser = Client(app)
    browser.login("mw")
    page = browser.get(f"/casussen/{case['id']}")
    assert page.status_code == 200 and "0800-2000" in page_text(page)
    task = case["tasks"][0]["id"]
    for path in ("/meldcode", f"/taken/{task}"):
        assert browser.get(path).status_code == 200, path
    api = app.test_client()
    for path in (f"/api/v1/cases/{case['id']}", f"/api/v1/tasks/{task}"):
        assert api.get(path, headers=people.auth("mw")).status_code == 200, path
    beheerder = Client(app)
    beheerder.login("bh")
    assert beheerder.get("/beheer/instellingen").status_code == 200
    result = CliRunner().invoke(meldcode, ["document", "-o", str(tmp_path / "m.html"), "--format", "html"])
    assert result.exit_code == 0, result.output
    assert "0800-2000" in (tmp_path / "m.html").read_text()

    code, output = verify_all()
    assert code == 1 and (f"instelling {key} " in output or f"instelling {key}: " in output), output
    if kind in SQLITE_ONLY:
        assert f"instelling {key}: de opgeslagen waarde is beschadigd (geen geldige" in output


def test_a_genuine_value_the_form_now_refuses_takes_its_default(people, caplog):
    """A value the admin log vouches for (an older release's form took it) that today's form
    refuses is not used either: one rule, organisation.validate."""
    with store.unit_of_work(write=True) as session:
        session.execute(text("INSERT INTO settings (key, value) VALUES ('aandachtsfunctionarissen', '5')"))
        audit.log_admin(session, "bh", "settings_changed", {"settings": {"aandachtsfunctionarissen": 5}})
    with caplog.at_level(logging.WARNING, logger="meldcode.seals"):
        assert organisation.current()["aandachtsfunctionarissen"] == []
    assert "shape the settings form allows" in caplog.text
    assert config_problems() == []  # the row is what the log says


def test_the_migration_records_the_settings_that_exist(tmp_path, monkeypatch):
    """Migration 0017 gives settings stored before it (no admin-log line) a settings_recorded
    line as they stand: verify passes and the pages keep using them."""
    from alembic import command
    from sqlalchemy import create_engine

    from engine import schema

    url = f"sqlite:///{tmp_path / 'oud.sqlite'}"
    monkeypatch.setenv("MELDCODE_DATABASE_URL", url)
    command.upgrade(schema.alembic_config(url), "0016")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO settings (key, value) VALUES ('organisatie_naam', '\"De Linde\"')"))
        conn.execute(text("INSERT INTO settings (key, value) VALUES ('veilig_thuis_regio_naam', '{kapot')"))
    engine.dispose()
    schema.upgrade(url)
    try:
        assert organisation.current()["organisatie_naam"] == "De Linde"
        assert [p for p in config_problems() if p.startswith("instelling")] == [
            "instelling veilig_thuis_regio_naam: de opgeslagen waarde is beschadigd "
            "(geen geldige JSON (regel 1, kolom 2))"
        ]
    finally:
        store.dispose_engines()
