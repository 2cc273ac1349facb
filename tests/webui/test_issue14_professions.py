"""The professional groups and the kindcheck with consequence (issue 14 points 2 and 3), as a
beheerder and a client of the JSON API meet them: each user has a beroepsgroep (`meldcode user
add --beroepsgroep`, `meldcode user beroepsgroep`, the beheerder's user page; none: the
organisation's), a case records its owner's at its start, and the forms of the case follow it:
the KNMG points (letselduiding, a reason for not asking Veilig Thuis's advice, the client who
could not be reached) are asked in a doctor's case only (`shown_when`); stap 4 asks about the
children when the kindcheck left their safety in doubt; stap 3 and the talk before a melding
record who was spoken with; after a melding on acute or structural unsafety the feedback of
Veilig Thuis records the re-weighing of afwegingsvraag 3 and 4."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from engine import models, organisation, store, tokens
from tests.helpers import LANE_PEOPLE, Client, events_of, verify
from tests.scenarios.paths import fill
from webui.cli import main as meldcode

KNMG_FIELDS = {"letselduiding", "advies_vt_niet_reden", "client_niet_bereikt", "bereik_pogingen"}
PASSWORD = "een-goed-wachtwoord-14"


def invoke(*args: str, password: str | None = None):
    return CliRunner().invoke(meldcode, list(args), input=password,
                              catch_exceptions=False)


def group_of(name: str) -> str | None:
    with store.unit_of_work() as session:
        return session.scalar(select(models.User.beroepsgroep).where(models.User.name == name))


def admin_lines() -> list[tuple[str, dict]]:
    with store.unit_of_work() as session:
        return [(r.action, r.detail) for r in session.scalars(
            select(models.AdminLogEntry).order_by(models.AdminLogEntry.id))]


@pytest.fixture
def api(ui_app, sqlite_people):
    client = ui_app.test_client()
    auth = dict(sqlite_people.tokens)

    def call(who, method, path, **kw):
        return client.open(path, method=method,
                           headers={"Authorization": f"Bearer {auth[who]}"}, **kw)

    def add(name: str, group: str | None) -> None:
        args = ["user", "add", name, "--role", "medewerker", "--manager", "lg",
                "--password-stdin"]
        result = invoke(*args, *(["--beroepsgroep", group] if group else []),
                        password=PASSWORD + "\n")
        assert result.exit_code == 0, result.output
        with store.unit_of_work(write=True) as session:
            auth[name] = tokens.create_token(session, name)

    call.add = add
    return call


def start(api, who="mw", ref="C-beroep"):
    r = api(who, "POST", "/api/v1/cases", json={"client_ref": ref})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def form(api, who, task):
    r = api(who, "GET", f"/api/v1/tasks/{task['id']}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def fields_of(api, who, task) -> dict[str, dict]:
    return {f["name"]: f for f in form(api, who, task)["form"]["fields"]}


def complete(api, who, task, data, status=200):
    r = api(who, "POST", f"/api/v1/tasks/{task['id']}/complete", json={"data": data})
    assert r.status_code == status, r.get_json()
    return r.get_json()


def ready(case, step):
    return next(t for t in case["tasks"] if t["step"] == step)


def walk_to(api, owner, case, step, decisions):
    """Complete the ready tasks with fill() (each by its person: the owner for the medewerker
    lane) until `step` is ready; the case then."""
    while not any(t["step"] == step for t in case["tasks"]):
        task = case["tasks"][0]
        who = owner if task["lane"] == "medewerker" else LANE_PEOPLE[task["lane"]]
        case = complete(api, who, task, fill(form(api, who, task)["form"]["fields"], decisions))
    return case


# --- the command line ---------------------------------------------------------------------------


def test_user_add_and_change_a_beroepsgroep_at_the_command_line(sqlite_people):
    ok = invoke("user", "add", "arts", "--role", "medewerker", "--beroepsgroep", "knmg",
                "--password-stdin", password=PASSWORD + "\n")
    assert ok.exit_code == 0, ok.output
    assert group_of("arts") == "artsen"  # stored as the group's key
    ok = invoke("user", "add", "zorg", "--role", "medewerker", "--beroepsgroep", "V&VN",
                "--password-stdin", password=PASSWORD + "\n")
    assert ok.exit_code == 0 and group_of("zorg") == "verpleegkundigen"
    assert invoke("user", "add", "pedagoog", "--role", "medewerker", "--password-stdin",
                  password=PASSWORD + "\n").exit_code == 0
    assert group_of("pedagoog") is None  # the organisation's setting

    bad = invoke("user", "add", "tandarts", "--role", "medewerker", "--beroepsgroep",
                 "tandartsen", "--password-stdin", password=PASSWORD + "\n")
    assert bad.exit_code == 2
    assert "Onbekende beroepsgroep 'tandartsen'" in bad.output and "knmg" in bad.output
    with store.unit_of_work() as session:
        assert session.scalar(select(models.User).where(models.User.name == "tandarts")) is None

    before = len(admin_lines())
    ok = invoke("user", "beroepsgroep", "zorg", "knmg")
    assert ok.exit_code == 0, ok.output
    assert group_of("zorg") == "artsen"
    assert admin_lines()[before:] == [("user_beroepsgroep",
                                       {"user": "zorg", "beroepsgroep": "artsen"})]
    assert invoke("user", "beroepsgroep", "zorg", "knmg").exit_code == 0
    assert len(admin_lines()) == before + 1  # no change, no line
    assert invoke("user", "beroepsgroep", "zorg", "organisatie").exit_code == 0
    assert group_of("zorg") is None
    assert admin_lines()[-1] == ("user_beroepsgroep",
                                 {"user": "zorg", "beroepsgroep": "organisatie"})
    for args, says in ((("zorg", "chirurg"), "Onbekende beroepsgroep 'chirurg'"),
                       (("niemand", "knmg"), "bestaat niet")):
        r = invoke("user", "beroepsgroep", *args)
        assert r.exit_code == 2 and says in r.output, r.output
    assert group_of("zorg") is None


# --- the forms follow the owner's group ---------------------------------------------------------


def test_a_doctors_case_asks_the_knmg_points_and_a_nurses_does_not(api):
    api.add("arts", "knmg")
    api.add("zorg", "vvn")
    doctor, nurse = start(api, "arts", "C-arts"), start(api, "zorg", "C-zorg")
    assert doctor["data"]["beroepsgroep"] == "artsen"
    assert nurse["data"]["beroepsgroep"] == "verpleegkundigen"
    nurse_fields = fields_of(api, "zorg", nurse["tasks"][0])
    assert not KNMG_FIELDS & set(nurse_fields)
    fields = fields_of(api, "arts", doctor["tasks"][0])
    assert fields["letselduiding"]["type"] == "text" and "KNMG" in fields["letselduiding"]["help"]

    # stap 1: the doctor notes the injury
    task = doctor["tasks"][0]
    data = {**fill(list(fields.values()), {"kindcheck_kinderen": False}),
            "geweldsvormen": ["lichamelijk"], "letselduiding": "Hematoom bovenarm, 4 cm"}
    doctor = complete(api, "arts", task, data)
    assert doctor["data"]["letselduiding"] == "Hematoom bovenarm, 4 cm"

    # stap 2: no advice asked from Veilig Thuis: the reason is required
    task = ready(doctor, "stap2_overleg")
    fields = fields_of(api, "arts", task)
    assert fields["advies_vt_niet_reden"]["required_when"] == "advies_veilig_thuis == False"
    data = {**fill(list(fields.values()), {"advies_veilig_thuis": False,
                                            "gesprek_uitzondering": "geen",
                                            "beroepsgroep": "artsen"})}
    del data["advies_vt_niet_reden"]
    assert set(complete(api, "arts", task, data, 422)["errors"]) == {"advies_vt_niet_reden"}
    doctor = complete(api, "arts", task, {**data, "advies_vt_niet_reden": "Zelf deskundig"})

    # stap 3: the client could not be reached: the attempts are required
    task = ready(doctor, "stap3_gesprek")
    fields = fields_of(api, "arts", task)
    assert {"client_niet_bereikt", "bereik_pogingen"} <= set(fields)
    data = fill(list(fields.values()), {"zorgen_weggenomen": False, "client_niet_bereikt": True,
                                        "beroepsgroep": "artsen"})
    del data["bereik_pogingen"]
    assert set(complete(api, "arts", task, data, 422)["errors"]) == {"bereik_pogingen"}
    doctor = complete(api, "arts", task, {**data, "bereik_pogingen": "3x gebeld, 1 brief"})

    # stap 4 names the doctor's afwegingskader
    assert "KNMG" in form(api, "arts", ready(doctor, "stap4_wegen"))["documentation"]
    assert "KNMG" not in form(api, "mw", ready(
        walk_to(api, "mw", start(api), "stap4_wegen",
                {"kindcheck_kinderen": False, "gesprek_uitzondering": "geen",
                 "zorgen_weggenomen": False}), "stap4_wegen"))["documentation"]

    # the nurse's case: a KNMG answer sent anyway is refused (422 naming it), not stored
    task = nurse["tasks"][0]
    data = {**fill(list(nurse_fields.values()), {"kindcheck_kinderen": False}),
            "geweldsvormen": ["lichamelijk"]}
    refused = complete(api, "zorg", task, {**data, "letselduiding": "niet gevraagd"}, 422)
    assert set(refused["errors"]) == {"letselduiding"}
    nurse = complete(api, "zorg", task, data)
    recorded = next(e.data for e in events_of(nurse["id"]) if e.step == "stap1_signalen")
    assert "letselduiding" not in recorded and "letselduiding" not in nurse["data"]

    # each case's group is in its first event, and replay arrives at the same data
    for case, group in ((doctor, "artsen"), (nurse, "verpleegkundigen")):
        assert events_of(case["id"])[0].data["beroepsgroep"] == group
    results = verify(doctor["id"], nurse["id"])
    assert all(v.ok for v in results.values()), {k: v.problems for k, v in results.items()}


def test_the_organisations_group_is_the_default_and_a_case_keeps_its_own(api, sqlite_people):
    before = start(api, "mw", "C-voor")
    assert before["data"]["beroepsgroep"] == "sociaal_domein"
    organisation.update(sqlite_people["bh"], {"beroepsgroep": "knmg"})  # the alias works here too
    assert organisation.current()["beroepsgroep"] == "artsen"
    after = start(api, "mw", "C-na")
    assert after["data"]["beroepsgroep"] == "artsen"
    assert "letselduiding" in fields_of(api, "mw", after["tasks"][0])
    assert "letselduiding" not in fields_of(api, "mw", before["tasks"][0])
    # the user's own group goes before the organisation's; a later change leaves cases alone
    assert invoke("user", "beroepsgroep", "mw", "vvn").exit_code == 0
    third = start(api, "mw", "C-derde")
    assert third["data"]["beroepsgroep"] == "verpleegkundigen"
    assert "letselduiding" in fields_of(api, "mw", after["tasks"][0])
    # an empty group (an unset shell variable) is refused, not taken as the organisation's
    for empty in ("", "  "):
        refused = invoke("user", "beroepsgroep", "mw", empty)
        assert refused.exit_code == 2 and "organisatie" in refused.output
    assert start(api, "mw", "C-vierde")["data"]["beroepsgroep"] == "verpleegkundigen"


# --- the kindcheck with consequence, the conversations, the re-weighing ---------------------------


@pytest.mark.parametrize("opvang, bescherming, asked", [
    (False, True, True), (True, False, True), (True, True, False)])
def test_stap4_asks_about_the_children_when_their_safety_is_in_doubt(api, opvang, bescherming,
                                                                      asked):
    case = walk_to(api, "mw", start(api), "stap4_wegen", {
        "kindcheck_kinderen": True, "kindcheck_opvang_adequaat": opvang,
        "kindcheck_bescherming": bescherming, "gesprek_uitzondering": "geen",
        "zorgen_weggenomen": False})
    task = ready(case, "stap4_wegen")
    fields = fields_of(api, "mw", task)
    assert ("weging_kinderen" in fields) is asked
    # fill() answers the fields of this case's form: it needs the kindcheck's answers too
    data = fill(list(fields.values()), {"vermoeden": True, "acute_onveiligheid": False,
                                        "structurele_onveiligheid": False,
                                        "kindcheck_kinderen": True,
                                        "kindcheck_opvang_adequaat": opvang,
                                        "kindcheck_bescherming": bescherming})
    if asked:
        assert fields["weging_kinderen"]["required"] is True
        assert "kindcheck" in fields["weging_kinderen"]["help"]
        del data["weging_kinderen"]
        assert set(complete(api, "mw", task, data, 422)["errors"]) == {"weging_kinderen"}
        data["weging_kinderen"] = "De kinderen zijn niet veilig bij vader"
    complete(api, "mw", task, data)


def test_who_the_conversations_were_held_with_is_recorded(api):
    case = walk_to(api, "mw", start(api), "stap3_gesprek", {
        "kindcheck_kinderen": False, "gesprek_uitzondering": "geen"})
    task = ready(case, "stap3_gesprek")
    field = fields_of(api, "mw", task)["gesprek_met_wie"]
    assert field["type"] == "multi" and field["required"] is True
    assert [o["value"] for o in field["options"]] == ["client", "minderjarige", "gezag", "anders"]
    assert "12 jaar" in field["help"] and "16 jaar" in field["help"]
    data = fill(form(api, "mw", task)["form"]["fields"], {"zorgen_weggenomen": False})
    del data["gesprek_met_wie"]
    assert set(complete(api, "mw", task, data, 422)["errors"]) == {"gesprek_met_wie"}
    case = complete(api, "mw", task, {**data, "gesprek_met_wie": ["minderjarige", "gezag"]})
    case = walk_to(api, "mw", case, "melding_voorbespreken", {
        "vermoeden": True, "acute_onveiligheid": False, "structurele_onveiligheid": False,
        "hulp_mogelijk": False, "hulp_aanvaard": False, "melding_uitzondering": "geen"})
    fields = fields_of(api, "mw", ready(case, "melding_voorbespreken"))
    assert fields["voorbespreken_met_wie"]["type"] == "multi"
    assert fields["voorbespreken_met_wie"]["required"] is True


@pytest.mark.parametrize("acute, asked", [(True, True), (False, False)])
def test_after_acute_unsafety_the_feedback_records_the_reweighing(api, acute, asked):
    case = walk_to(api, "mw", start(api), "stap5_beslissen", {
        "kindcheck_kinderen": False, "gesprek_uitzondering": "veiligheid", "vermoeden": True,
        "acute_onveiligheid": acute, "structurele_onveiligheid": False})
    stap5 = fields_of(api, "mw", ready(case, "stap5_beslissen"))
    for name in ("hulp_mogelijk", "hulp_aanvaard"):
        assert "eerste inschatting" in stap5[name]["help"]
    case = walk_to(api, "mw", case, "terugkoppeling_vt", {
        "hulp_mogelijk": False, "hulp_aanvaard": False, "melding_uitzondering": "veiligheid"})
    task = ready(case, "terugkoppeling_vt")
    fields = fields_of(api, "mw", task)
    assert ("terugkoppeling_herweging" in fields) is asked
    data = fill(list(fields.values()), {"terugkoppeling_ontvangen": True,
                                        "terugkoppeling_vervolg": False,
                                        "acute_onveiligheid": acute,
                                        "structurele_onveiligheid": False})
    if asked:
        assert fields["terugkoppeling_herweging"]["required_when"] == \
            "terugkoppeling_ontvangen == True"
        del data["terugkoppeling_herweging"]
        assert set(complete(api, "mw", task, data, 422)["errors"]) == \
            {"terugkoppeling_herweging"}
        data["terugkoppeling_herweging"] = "Samen met Veilig Thuis: hulp via het wijkteam"
    complete(api, "mw", task, data)


# --- the beheerder's user page ------------------------------------------------------------------


def test_the_beheerder_sets_a_users_group_on_the_user_page(ui_app, sqlite_people):
    bh = Client(ui_app)
    bh.login("bh")
    page = bh.get("/beheer/gebruikers/mw").get_data(as_text=True)
    assert 'id="beroepsgroep"' in page and "Zoals de organisatie" in page
    r = bh.post("/beheer/gebruikers/mw/beroepsgroep", {"beroepsgroep": "artsen"})
    assert r.status_code == 302 and group_of("mw") == "artsen"
    page = bh.get("/beheer/gebruikers/mw").get_data(as_text=True)
    assert '<option value="artsen" selected>' in page
    bad = bh.post("/beheer/gebruikers/mw/beroepsgroep", {"beroepsgroep": "tandartsen"})
    assert bad.status_code == 422 and "Onbekende beroepsgroep" in bad.get_data(as_text=True)
    assert group_of("mw") == "artsen"
    assert bh.post("/beheer/gebruikers/mw/beroepsgroep", {"beroepsgroep": ""}).status_code == 302
    assert group_of("mw") is None
    # a new user with a group from the users page
    r = bh.post("/beheer/gebruikers", {"naam": "verpleger", "rollen": "medewerker",
                                        "wachtwoord": PASSWORD, "beroepsgroep": "verpleegkundigen"})
    assert r.status_code == 302 and group_of("verpleger") == "verpleegkundigen"
    # the auditor reads the change in the admin log by the group's name
    aud = Client(ui_app)
    aud.login("aud")
    log = aud.get("/beheerlog").get_data(as_text=True)
    assert "Beroepsgroep gewijzigd" in log and "Artsen: de KNMG-meldcode" in log
    # anyone else is refused
    mw = Client(ui_app)
    mw.login("mw")
    assert mw.post("/beheer/gebruikers/mw/beroepsgroep", {"beroepsgroep": "artsen"}).status_code \
        == 403
    assert group_of("mw") is None


# --- the diagram ----------------------------------------------------------------------------------


def test_a_shown_when_goes_through_the_safe_evaluator_at_check():
    from engine import definitions
    from engine.definitions import SourceFile

    files = definitions.shipped_files()
    bpmn = next(f for f in files if f.kind == "bpmn")
    broken = bpmn.content.replace(b"beroepsgroep == 'artsen'", b"__import__('os').getcwd()", 1)
    assert broken != bpmn.content
    definition, problems = definitions.check(
        [SourceFile(bpmn.name, broken), *[f for f in files if f.kind == "dmn"]], prove=False)
    assert definition is None and problems
    assert any("letselduiding" in str(p) or "voorwaarde" in str(p) for p in problems), problems


def test_the_task_page_of_a_doctors_case_shows_the_knmg_points_and_a_nurses_not(api, ui_app):
    api.add("arts", "knmg")
    api.add("zorg", "vvn")
    pages = {}
    for who in ("arts", "zorg"):
        case = walk_to(api, who, start(api, who, f"C-{who}"), "stap2_overleg",
                       {"kindcheck_kinderen": False})
        browser = Client(ui_app)
        browser.login(who, PASSWORD)
        pages[who] = browser.get(f"/taken/{ready(case, 'stap2_overleg')['id']}").get_data(
            as_text=True)
    # on the doctor's form, shown when 'nee' is chosen (the browser's check of required_when)
    assert 'id="veld-advies_vt_niet_reden"' in pages["arts"]
    assert 'data-when-field="advies_veilig_thuis" data-when-op="==" data-when-value="nee"' \
        in pages["arts"]
    assert "veld-advies_vt_niet_reden" not in pages["zorg"]


@pytest.mark.parametrize("answers, named", [
    # an unborn child counts: a pregnancy with "no children" skips the kindcheck for it
    ({"zwangerschap": True, "kindcheck_kinderen": False}, "kindcheck_kinderen"),
    # the kindcheck's questions about children there are none of
    ({"kindcheck_kinderen": False, "kindcheck_opvang_adequaat": False},
     "kindcheck_opvang_adequaat"),
    ({"kindcheck_kinderen": False, "kindcheck_bescherming": False}, "kindcheck_bescherming"),
])
def test_kindcheck_answers_that_contradict_each_other_are_refused(api, answers, named):
    case = start(api)
    task = ready(case, "stap1_signalen")
    # fill answers only the questions asked: the contradicting answers are posted as they are
    data = {**fill(list(fields_of(api, "mw", task).values()), answers), **answers}
    refused = complete(api, "mw", task, data, status=422)
    assert named in refused["errors"], refused
    assert ready(api("mw", "GET", f"/api/v1/cases/{case['id']}").get_json(), "stap1_signalen")
    # the consistent answers go through
    consistent = {**answers, "kindcheck_kinderen": True, "kindcheck_opvang_adequaat": True,
                  "kindcheck_bescherming": True}
    done = complete(api, "mw", task, fill(list(fields_of(api, "mw", task).values()), consistent))
    assert done["data"]["kindcheck_kinderen"] is True
