"""Consultations, notifications and e-mail addresses as people use them in the web UI and on
the command line (CONTRACT section 5)."""

import re

from engine import cases, organisation
from tests.conftest import meldcode_cli
from tests.helpers import Client, text, verify


def test_ask_answer_and_read_the_notification_in_the_web_ui(ui_app, sqlite_people):
    organisation.update(sqlite_people["bh"], {"aandachtsfunctionarissen": [
        {"naam": "af", "functie": "Aandachtsfunctionaris zorg", "telefoon": "030-1234567",
         "email": "af@zorg.example"}]})
    case = cases.start_case(sqlite_people["mw"], {"client_ref": "C-web", "reason": "zorgen"})
    mw = Client(ui_app)
    mw.login("mw")
    page = text(mw.get(f"/casussen/{case['id']}"))
    # one list: the leidinggevende and the aandachtsfunctionaris with the contact details
    assert 'name="user" value="lg"' in page and 'name="user" value="af"' in page
    assert "030-1234567" in page and "Aandachtsfunctionaris zorg" in page
    refused = mw.post(f"/casussen/{case['id']}/raadplegen", {"user": "af", "question": "  "})
    assert refused.status_code == 422 and "Schrijf uw vraag op." in text(refused)
    done = mw.post(f"/casussen/{case['id']}/raadplegen",
                   {"user": "af", "question": "Is dit een signaal?"})
    assert done.status_code == 302

    af = Client(ui_app)
    af.login("af")
    home = text(af.get("/"))
    assert re.search(r'class="badge">1<', home)  # the unread count in the header
    berichten = text(af.get("/berichten"))
    assert f"casus {case['id']}" in berichten and "C-web" not in berichten
    task_link = re.search(r'href="/taken/([^"]+)"', berichten).group(1)
    task_page = text(af.get(f"/taken/{task_link}"))
    assert "Is dit een signaal?" in task_page and 'name="antwoord"' in task_page
    missing = af.post(f"/taken/{task_link}", {"antwoord": "", "actie": "afronden"})
    assert missing.status_code == 422
    answered = af.post(f"/taken/{task_link}", {"antwoord": "Ja, bespreek het.",
                                               "actie": "afronden"})
    assert answered.status_code == 302
    af.get("/berichten")
    assert af.post("/berichten/alles-gelezen").status_code == 302
    assert 'class="badge"' not in text(af.get("/"))
    timeline = text(mw.get(f"/casussen/{case['id']}"))
    assert "Ja, bespreek het." in timeline and "Advies gegeven" in timeline
    assert verify(case["id"])[case["id"]].ok


def test_user_add_with_email_on_the_command_line(sqlite_url, tmp_path):
    """On the suite's prepared database, as a first `meldcode init` leaves one: the init
    here finds nothing to do (on an empty database it would prove the shipped set, seconds
    of CPU)."""
    env = {"MELDCODE_DATABASE_URL": sqlite_url, "MELDCODE_INSTANCE": str(tmp_path / "instance")}
    assert meldcode_cli("init", env=env).returncode == 0
    bad = meldcode_cli("user", "add", "jan", "--role", "medewerker", "--password-stdin",
                       "--email", "geen adres", env=env, input="een-goed-wachtwoord\n")
    assert bad.returncode == 2 and "geen geldig e-mailadres" in bad.stderr
    ok = meldcode_cli("user", "add", "jan", "--role", "medewerker", "--password-stdin",
                      "--email", "jan@zorg.example", env=env, input="een-goed-wachtwoord\n")
    assert ok.returncode == 0, ok.stderr


def test_the_beheerder_sets_an_email_address(ui_app, sqlite_people):
    bh = Client(ui_app)
    bh.login("bh")
    bh.get("/beheer/gebruikers/mw")
    refused = bh.post("/beheer/gebruikers/mw/email", {"email": "mw@"})
    assert refused.status_code == 422 and "geen geldig e-mailadres" in text(refused)
    assert bh.post("/beheer/gebruikers/mw/email", {"email": "mw@zorg.example"}).status_code == 302
    assert 'value="mw@zorg.example"' in text(bh.get("/beheer/gebruikers/mw"))
    bh.get("/beheer/gebruikers")
    added = bh.post("/beheer/gebruikers", {"naam": "nieuw", "rollen": "medewerker",
                                           "email": "nieuw@zorg.example"})
    assert added.status_code == 200
    assert 'value="nieuw@zorg.example"' in text(bh.get("/beheer/gebruikers/nieuw"))
