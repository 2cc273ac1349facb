"""Issue 11: a users, api_tokens, settings or admin_log row damaged in the database (server
stopped; SQLite keeps bytes that are no UTF-8, text in a number, flag or time column;
PostgreSQL a time of 'infinity') is a finding, never a traceback or a 500. `meldcode verify
--all` names the damaged user or token in Dutch with each damaged column, goes on with
everything else and exits 1; its summary counts the cases apart from what else is wrong.
Sign-in refuses a damaged user as it refuses a wrong password, the others sign in; a damaged
token gives no access, the others do; the beheerder's pages of users and tokens open and say
"beschadigd"; `meldcode token list` never shows a damaged time as 1970 and shows a token whose
user number is damaged. A settings row of a key the product does not know is named. The due
dates of new tasks follow the norm the admin log vouches for (engine/due.py), as pages do.
SQLite and PostgreSQL, each damage where the database takes it."""

from __future__ import annotations

import html
import sqlite3

import pytest
from sqlalchemy import text as sql

from engine import cases, due, organisation, sessions, store, tasks, timezones
from tests.conftest import PASSWORD
from tests.helpers import Client, cli, only_on, text, verify_all, where_taken
from tests.helpers import write_raw as write
from tests.scenarios.paths import LONGEST, fill

BYTES = "CAST(X'ff41' AS TEXT)"  # bytes that are no UTF-8 (SQLite keeps them in any column)
NOT_TEXT = "bytes die geen tekst zijn (UTF-8)"
NO_TIME = "geen geldig tijdstip"
INFINITE = "een waarde buiten het bereik ('infinity')"

# kind -> (column, the value as SQL, the database that takes it, what verify says of it)
USER_DAMAGE = {
    "name-bytes": ("name", BYTES, "sqlite", NOT_TEXT),
    "display_name-bytes": ("display_name", BYTES, "sqlite", NOT_TEXT),
    "password_hash-bytes": ("password_hash", BYTES, "sqlite", NOT_TEXT),
    "roles-bytes": ("roles", BYTES, "sqlite", NOT_TEXT),
    "email-bytes": ("email", BYTES, "sqlite", NOT_TEXT),
    "beroepsgroep-bytes": ("beroepsgroep", BYTES, "sqlite", NOT_TEXT),
    "seal-bytes": ("seal", BYTES, "sqlite", NOT_TEXT),
    "manager_id-text": ("manager_id", "'lg'", "sqlite", "geen getal ('lg')"),
    "manager_id-bytes": ("manager_id", BYTES, "sqlite", "geen getal ('\ufffdA')"),
    "session_version-bytes": ("session_version", BYTES, "sqlite", "geen getal ('\ufffdA')"),
    "active-text": ("active", "'ja'", "sqlite", "geen ja/nee-waarde ('ja')"),
    "active-bytes": ("active", BYTES, "sqlite", "geen ja/nee-waarde ('\ufffdA')"),
    "created_at-text": ("created_at", "'gisteren'", "sqlite", NO_TIME),
    "created_at-bytes": ("created_at", BYTES, "sqlite", NO_TIME),
    "created_at-infinity": ("created_at", "'infinity'", "postgresql", INFINITE),
}
TOKEN_DAMAGE = {
    "token_hash-bytes": ("token_hash", BYTES, "sqlite", NOT_TEXT),
    "seal-bytes": ("seal", BYTES, "sqlite", NOT_TEXT),
    "user_id-text": ("user_id", "'mw'", "sqlite", "geen getal ('mw')"),
    "user_id-bytes": ("user_id", BYTES, "sqlite", "geen getal ('\ufffdA')"),
    "created_at-bytes": ("created_at", BYTES, "sqlite", NO_TIME),
    "expires_at-text": ("expires_at", "'morgen'", "sqlite", NO_TIME),
    "expires_at-bytes": ("expires_at", BYTES, "sqlite", NO_TIME),
    "revoked_at-bytes": ("revoked_at", BYTES, "sqlite", NO_TIME),
    "created_at-infinity": ("created_at", "'infinity'", "postgresql", INFINITE),
    "expires_at-infinity": ("expires_at", "'infinity'", "postgresql", INFINITE),
    "revoked_at-infinity": ("revoked_at", "'infinity'", "postgresql", INFINITE),
}
# PostgreSQL's 'infinity' in a token's time was refused cleanly before (stored_time.py): verify
# names it now (test_verify_...), the token list shows it (where it showed 1970)
REFUSED_BEFORE = {"created_at-infinity", "expires_at-infinity", "revoked_at-infinity"}
OUTSIDE = "Buiten de casussen niet in orde:"  # then each part with findings (issue 11)




def ids(name: str) -> tuple[int, int]:
    """The user id of `name` and the number of their (first) API token."""
    with store.unit_of_work() as session:
        uid = session.execute(sql("SELECT id FROM users WHERE name = :n"), {"n": name}).scalar_one()
        tid = session.execute(sql("SELECT min(id) FROM api_tokens WHERE user_id = :u"), {"u": uid})
    return uid, tid.scalar_one()


# each kind on the database that takes its value (the other refuses it itself)
USER_KINDS = {kind: damage[2] for kind, damage in USER_DAMAGE.items()}
TOKEN_KINDS = {kind: damage[2] for kind, damage in TOKEN_DAMAGE.items()}


def damaged(table: str, kinds: dict, kind: str, db_url: str) -> tuple[str, int, int]:
    column, value, _, _ = kinds[kind]
    uid, tid = ids("mw")
    write(db_url, f"UPDATE {table} SET {column} = {value} WHERE id = :i", i=uid if table == "users" else tid)
    return kind, uid, tid


@pytest.fixture
def damaged_user(kind, people, db_url):
    """mw's users row damaged as the kind says; a case of mw2 beside it."""
    case = cases.start_case(people["mw2"], {"client_ref": "Pietersen", "reason": "zorgen"})
    return (*damaged("users", USER_DAMAGE, kind, db_url), case)


@pytest.fixture
def damaged_token(kind, people, db_url):
    """mw's API token damaged as the kind says; a case of mw2 beside it."""
    case = cases.start_case(people["mw2"], {"client_ref": "Pietersen", "reason": "zorgen"})
    return (*damaged("api_tokens", TOKEN_DAMAGE, kind, db_url), case)


def summary_checks(output: str, cases_checked: int, outside: int, part: str) -> None:
    assert f"{cases_checked} casus(sen) gecontroleerd, 0 niet in orde." in output, output
    assert f"{OUTSIDE} {part} ({outside} bevinding(en))." in output, output


@where_taken(USER_KINDS)
def test_verify_names_the_damaged_user_and_checks_the_rest(damaged_user):
    kind, uid, _tid, case = damaged_user
    code, output = verify_all()  # a traceback fails here (the runner raises it)
    assert code == 1, output
    name = "\ufffdA" if kind == "name-bytes" else "mw"
    column, _, _, words = USER_DAMAGE[kind]
    assert f"gebruiker {name} (id {uid}) is beschadigd opgeslagen ({column}: {words})" in output, output
    assert f"casus {case['id']}: in orde" in output
    summary_checks(output, 1, 1, "gebruikers")  # only that user: the others match their seals


@where_taken(TOKEN_KINDS)
def test_verify_names_the_damaged_token_and_checks_the_rest(damaged_token):
    kind, _uid, tid, case = damaged_token
    code, output = verify_all()
    assert code == 1, output
    column, _, _, words = TOKEN_DAMAGE[kind]
    assert f"API-token {tid} (gebruiker-id " in output, output
    assert f"is beschadigd opgeslagen ({column}: {words})" in output, output
    assert f"casus {case['id']}: in orde" in output
    summary_checks(output, 1, 1, "API-tokens")


@where_taken(USER_KINDS)
def test_a_damaged_user_signs_in_as_nobody_and_the_others_work(app, people, damaged_user):
    kind, _uid, _tid, _case = damaged_user
    assert sessions.sign_in("mw", PASSWORD) is None  # never a traceback
    assert sessions.sign_in("mw2", PASSWORD) is not None
    mw, mw2 = Client(app), Client(app)
    assert mw.login("mw").status_code == 401  # as a wrong password: no 500
    mw2.login("mw2")
    assert mw2.get("/casussen").status_code == 200
    api = app.test_client()
    assert api.get("/api/v1/tasks", headers=people.auth("mw")).status_code == 401
    assert api.get("/api/v1/tasks", headers=people.auth("mw2")).status_code == 200
    bh = Client(app)
    bh.login("bh")
    users = bh.get("/beheer/gebruikers")
    assert users.status_code == 200
    row = html.unescape(text(users)).split('id="gebruiker-')
    damaged_row = next(r for r in row if r.startswith("\ufffdA" if kind == "name-bytes" else 'mw"'))
    assert "beschadigd: buiten het product gewijzigd" in damaged_row.split("</tr>")[0]
    assert "beschadigd" not in next(r for r in row if r.startswith('mw2"')).split("</tr>")[0]
    for name in ("mw", "mw2", "lg"):
        page = bh.get(f"/beheer/gebruikers/{name}")
        assert page.status_code in (200, 404), (name, page.status_code)  # mw: gone by its name
    assert bh.get("/beheer/gebruikers/mw2").status_code == 200


# not the kinds refused cleanly before (verify and the token list cover them), nor text that
# SQLite's driver reads
@where_taken({kind: where for kind, where in TOKEN_KINDS.items()
              if kind not in REFUSED_BEFORE | {"expires_at-text"}})
def test_a_damaged_token_gives_no_access_and_its_page_opens(app, people, damaged_token):
    kind, _uid, tid, _case = damaged_token
    api = app.test_client()
    assert api.get("/api/v1/tasks", headers=people.auth("mw")).status_code == 401
    assert api.get("/api/v1/tasks", headers=people.auth("mw2")).status_code == 200
    assert sessions.sign_in("mw", PASSWORD) is not None  # the user's own row is sound
    bh = Client(app)
    bh.login("bh")
    page = bh.get("/beheer/gebruikers/mw")
    assert page.status_code == 200
    body = html.unescape(text(page))
    token_row = body.split(f'id="token-{tid}"')[1].split("</tr>")[0]
    assert "beschadigd" in token_row and "1970" not in token_row, token_row


# not revoked_at-infinity: the list shows no revocation time (it said beschadigd before)
@where_taken({kind: where for kind, where in TOKEN_KINDS.items() if kind != "revoked_at-infinity"})
def test_token_list_shows_a_damaged_row_as_damaged(people, damaged_token):
    kind, _uid, tid, _case = damaged_token
    result = cli("token", "list", "mw")
    assert result.exit_code == 0, result.output
    [line] = [row for row in result.output.splitlines() if row.startswith(f"{tid}\t")]
    number, created, expires, status = line.split("\t")
    assert status == "beschadigd" and "1970" not in line, line
    column = TOKEN_DAMAGE[kind][0]
    if column == "created_at":
        assert created == "beschadigd", line
    if column == "expires_at":
        assert expires == "beschadigd", line


# --- the settings and the admin log ---------------------------------------------------------

UNKNOWN_KEYS = {"text": ("'onbekend'", "both", "onbekend"), "bytes": (BYTES, "sqlite", "\ufffdA")}


@where_taken({kind: UNKNOWN_KEYS[kind][1] for kind in sorted(UNKNOWN_KEYS)})  # PostgreSQL: no bytes
def test_verify_names_a_setting_the_product_does_not_know(people, db_url, kind):
    key, _, shown = UNKNOWN_KEYS[kind]
    case = cases.start_case(people["mw"], {"client_ref": "Jansen"})
    assert verify_all()[0] == 0
    write(db_url, f"INSERT INTO settings (key, value) VALUES ({key}, '\"0900-666\"')")
    code, output = verify_all()
    assert code == 1, output
    assert f"instelling {shown} is geen instelling van Meldcode (buiten het product toegevoegd)" in output
    assert f"casus {case['id']}: in orde" in output
    summary_checks(output, 1, 1, "instellingen")


@only_on("sqlite")  # PostgreSQL refuses bytes that are no UTF-8
def test_a_damaged_admin_log_hash_is_a_finding_and_pages_open(app, people, db_url):
    case = cases.start_case(people["mw"], {"client_ref": "Jansen"})
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        for event in ("update", "delete"):  # the append-only guard, dropped as an intruder would
            conn.execute(f"DROP TRIGGER IF EXISTS admin_log_no_{event}")
        conn.execute(f"UPDATE admin_log SET hash = {BYTES} WHERE id = (SELECT max(id) FROM admin_log)")
    code, output = verify_all()
    assert code == 1, output  # not 2: the pass over the log went on
    assert "logboek: NIET IN ORDE" in output and f"casus {case['id']}: in orde" in output
    assert "1 casus(sen) gecontroleerd, 0 niet in orde." in output
    assert "Buiten de casussen niet in orde: logboek (" in output
    mw, bh = Client(app), Client(app)
    mw.login("mw")
    assert mw.get(f"/casussen/{case['id']}").status_code == 200  # it reads the settings
    bh.login("bh")
    assert bh.get("/beheer/instellingen").status_code == 200


@only_on("sqlite")  # PostgreSQL's json column refuses it
@pytest.mark.parametrize("value", ["'{kapot'", BYTES])
def test_the_beheerder_saves_over_a_damaged_setting(app, people, db_url, value):
    """organisation.update never reads the stored value: one that is no JSON or no UTF-8 is
    replaced by the beheerder's, never a 500 on the settings page."""
    write(db_url, f"INSERT INTO settings (key, value) VALUES ('{due.NORM_KEY}', {value})")
    bh = Client(app)
    bh.login("bh")
    assert bh.get("/beheer/instellingen").status_code == 200
    saved = bh.post("/beheer/instellingen", {"veilig_thuis_telefoon": "0800-2000", due.NORM_KEY: "4"})
    assert saved.status_code == 302, saved.status_code
    assert organisation.current()[due.NORM_KEY] == 4
    assert not [p for p in verify_all()[1].splitlines() if "instelling" in p]


# --- the norm of the due dates: the value the admin log vouches for ------------------------

NORMS = {"changed": ("'20'", "both"), "no-json": ("'{kapot'", "sqlite")}


@where_taken({kind: NORMS[kind][1] for kind in sorted(NORMS)})  # PostgreSQL's json refuses {kapot
def test_new_tasks_follow_the_norm_the_admin_log_vouches_for(people, db_url, kind):
    value, _ = NORMS[kind]
    organisation.update(people["bh"], {due.NORM_KEY: 3})
    write(db_url, f"UPDATE settings SET value = {value} WHERE key = '{due.NORM_KEY}'")

    def expected(task) -> str:
        ready = timezones.parse_iso(task["ready_at"])
        return timezones.iso(due.end_of_working_day_after(ready, 3))

    case = cases.start_case(people["mw"], {"client_ref": "Jansen"})  # cases.py reads due.settings
    [task] = case["tasks"]
    assert task["due_at"] == expected(task)
    form = tasks.get_task(people["mw"], task["id"])["form"]["fields"]
    case = tasks.complete_task(people["mw"], task["id"], fill(form, LONGEST.decisions))  # the plan's read
    due_tasks = [t for t in case["tasks"] if t["due_at"]]
    assert due_tasks and all(t["due_at"] == expected(t) for t in due_tasks), case["tasks"]


def test_an_unfinished_restore_is_counted_apart_from_the_cases(people, db_url):
    """An intent record of a restore (engine/restore_steps.py) that is not in the admin log is
    no case "niet in orde": the summary names it apart, exit 1 all the same."""
    from engine import restore_steps

    case = cases.start_case(people["mw"], {"client_ref": "Jansen"})
    restore_steps.intent_path(db_url).write_text("{kapot", encoding="utf-8")
    code, output = verify_all()
    assert code == 1, output
    assert "terugzetten: NIET AFGEMAAKT" in output and f"casus {case['id']}: in orde" in output
    assert "1 casus(sen) gecontroleerd, 0 niet in orde." in output, output
    assert "Buiten de casussen niet in orde: terugzetten (1 bevinding(en))." in output, output
