"""Due dates and urgency of tasks through the API and the beheerder's settings page (CONTRACT
section 5 "Team and time", issue 13 point 3): every task carries `due_at` and `urgent`, GET
/api/v1/tasks lists urgent tasks first, then by due date (none last), then by ready time; the
norm of working days per step is a setting. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

from engine import due, models, store, task_rows, timezones
from tests.helpers import LANE_PEOPLE, Client, text, verify
from tests.scenarios.paths import SCENARIOS, fill

ACUTE = next(s for s in SCENARIOS if s.name == "acuut_melden_en_hulp")
STRUCTURAL = next(s for s in SCENARIOS if s.name == "structureel_melden_en_hulp")
MELDING_TASKS = {"melding_voorbereiden", "melding_voorbespreken", "melding_doen"}
TASK_KEYS = {"id", "case_id", "step", "name", "lane", "state", "ready_at", "due_at", "urgent"}


def start(client, people, ref):
    r = client.post("/api/v1/cases", json={"client_ref": ref}, headers=people.auth("mw"))
    assert r.status_code == 201, r.json
    return r.json


def complete(client, people, task, decisions):
    who = LANE_PEOPLE[task["lane"]]
    form = client.get(f"/api/v1/tasks/{task['id']}", headers=people.auth(who)).json
    r = client.post(f"/api/v1/tasks/{task['id']}/complete",
                    json={"data": fill(form["form"]["fields"], decisions)}, headers=people.auth(who))
    assert r.status_code == 200, r.json
    return r.json


def walk_until(client, people, case, decisions, step):
    """Complete the case's first ready task (as its lane's person) until `step` is ready."""
    while not any(t["step"] == step for t in case["tasks"]):
        assert case["tasks"], case["completed_steps"]
        case = complete(client, people, case["tasks"][0], decisions)
    return case


def expected_due(task, days: int) -> str:
    return timezones.iso(due.end_of_working_day_after(timezones.parse_iso(task["ready_at"]), days))


def listed(client, people, who="mw"):
    r = client.get("/api/v1/tasks", headers=people.auth(who))
    assert r.status_code == 200
    return r.json


def test_every_task_view_has_its_due_date_and_urgency(client, people):
    case = start(client, people, "C-termijn")
    [task] = case["tasks"]
    assert set(task) == TASK_KEYS
    assert task["step"] == "stap1_signalen" and task["urgent"] is False
    # the end (23:59 Dutch time) of the 5th working day after today, in UTC
    assert task["due_at"] == expected_due(task, due.DEFAULT_NORM)
    assert timezones.parse_iso(task["due_at"]).astimezone(timezones.DISPLAY_ZONE).strftime(
        "%H:%M") == "23:59"
    one = client.get(f"/api/v1/tasks/{task['id']}", headers=people.auth("mw")).json
    again = client.get(f"/api/v1/cases/{case['id']}", headers=people.auth("mw")).json["tasks"]
    assert (one["due_at"], one["urgent"]) == (task["due_at"], False)
    assert [(t["id"], t["due_at"], t["urgent"]) for t in again] == [(task["id"], task["due_at"], False)]
    assert [(t["id"], t["due_at"]) for t in listed(client, people)] == [(task["id"], task["due_at"])]
    case = complete(client, people, task, ACUTE.decisions)
    [stap2] = case["tasks"]
    assert stap2["step"] == "stap2_overleg" and stap2["due_at"] == expected_due(stap2, 5)
    assert verify(case["id"])[case["id"]].ok


def test_the_melding_tasks_of_an_acute_case_are_urgent(client, people):
    case = walk_until(client, people, start(client, people, "C-acuut"), ACUTE.decisions,
                      "melding_voorbereiden")
    assert case["data"]["acute_onveiligheid"] is True
    seen = {}
    while any(t["step"] in MELDING_TASKS for t in case["tasks"]):
        for t in case["tasks"]:
            seen[t["step"]] = t
            assert t["urgent"] is (t["step"] in MELDING_TASKS), t
            if t["lane"] == "medewerker" and t["step"] != "hulp_evalueren":
                assert t["due_at"] is not None, t
            if t["urgent"]:  # acute: due the end of the day it became ready, not in 5 days
                assert t["due_at"] == timezones.iso(due.end_of_day(due.local_day(
                    timezones.parse_iso(t["ready_at"])))), t
        melding = next(t for t in case["tasks"] if t["step"] in MELDING_TASKS)
        case = complete(client, people, melding, ACUTE.decisions)
    assert {"melding_voorbereiden", "melding_doen", "hulp_organiseren"} <= set(seen)
    assert seen["hulp_organiseren"]["urgent"] is False
    # every task after the melding is no longer urgent; the feedback of Veilig Thuis (where the
    # diagram has it) is due the 5th working day after the day of the melding
    assert all(t["urgent"] is False for t in case["tasks"])
    for t in case["tasks"]:
        if t["step"] == "terugkoppeling_vt":
            assert t["due_at"] == expected_due(t, 5)
            # Veilig Thuis will report again: the next feedback is due 10 weeks later
            case = complete(client, people, t, {**ACUTE.decisions, "terugkoppeling_ontvangen": True,
                                                "terugkoppeling_vervolg": True})
            [again] = [x for x in case["tasks"] if x["step"] == "terugkoppeling_vt"]
            day = due.local_day(timezones.parse_iso(again["ready_at"])) + timedelta(weeks=10)
            while not due.is_working_day(day):
                day += timedelta(days=1)
            assert again["due_at"] == timezones.iso(due.end_of_day(day))
    mine = listed(client, people)
    assert all(t["urgent"] is False for t in mine)
    # the same melding tasks without acute unsafety: not urgent
    calm = walk_until(client, people, start(client, people, "C-structureel"), STRUCTURAL.decisions,
                      "melding_voorbereiden")
    assert calm["data"]["acute_onveiligheid"] is False
    assert [t["urgent"] for t in calm["tasks"]] == [False] * len(calm["tasks"])
    assert all(v.ok for v in verify(case["id"], calm["id"]).values())


def test_the_task_list_is_urgent_first_then_by_due_date_then_by_ready_time(client, people):
    def set_norm(days):
        from engine import organisation

        organisation.update(people["bh"], {due.NORM_KEY: days})

    later = start(client, people, "C-vijf")["tasks"][0]  # due in 5 working days
    set_norm(1)
    sooner = start(client, people, "C-een")["tasks"][0]  # ready after it, due before it
    none = start(client, people, "C-zonder")["tasks"][0]
    # a task of a step without a due date (as an organisation's own step would be)
    with store.unit_of_work(write=True) as session:  # sealed anew, as the product's writer would
        task_rows.resealed(session.get_one(models.TaskRecord, none["id"]), due_at=None)
    acute = walk_until(client, people, start(client, people, "C-acuut"), ACUTE.decisions,
                       "melding_voorbereiden")
    melding = next(t for t in acute["tasks"] if t["step"] == "melding_voorbereiden")
    hulp = next(t for t in acute["tasks"] if t["step"] == "hulp_organiseren")
    assert melding["urgent"] and not hulp["urgent"]
    assert sooner["due_at"] == expected_due(sooner, 1) and later["due_at"] == expected_due(later, 5)
    order = [t["id"] for t in listed(client, people)]
    assert order[0] == melding["id"]
    assert order[-1] == none["id"]
    assert order.index(sooner["id"]) < order.index(hulp["id"]) < order.index(later["id"])
    everything = listed(client, people)
    assert everything == sorted(everything, key=lambda t: (
        not t["urgent"], t["due_at"] or "9999", t["ready_at"], t["id"]))
    assert all(v.ok for v in verify().values())


def test_the_norm_is_a_setting_on_the_beheerders_page(app, client, people):
    web = Client(app)
    web.login("bh")
    page = text(web.get("/beheer/instellingen"))
    assert 'name="norm_werkdagen_per_stap"' in page and 'value="5"' in page
    for bad in ("0", "drie", "61", "-1", "2.5"):
        r = web.post("/beheer/instellingen", {"veilig_thuis_telefoon": "0800-2000",
                                              "norm_werkdagen_per_stap": bad})
        assert r.status_code == 422, bad
        assert "Vul een heel aantal werkdagen in, van 1 tot en met 60." in text(r)
    r = web.post("/beheer/instellingen", {"veilig_thuis_telefoon": "0800-2000",
                                          "norm_werkdagen_per_stap": " 2 "})
    assert r.status_code == 302
    assert 'value="2"' in text(web.get("/beheer/instellingen"))
    case = start(client, people, "C-norm")
    [task] = case["tasks"]
    assert task["due_at"] == expected_due(task, 2)
    case = complete(client, people, task, ACUTE.decisions)
    assert case["tasks"][0]["due_at"] == expected_due(case["tasks"][0], 2)
    # the API of the engine refuses what the page refuses, and changes nothing
    from engine import organisation
    from engine.errors import Invalid

    for bad in ("3", 2.0, True, 0, None):
        try:
            organisation.update(people["bh"], {due.NORM_KEY: bad})
        except Invalid as exc:
            assert due.NORM_KEY in exc.errors
        else:
            raise AssertionError(bad)
    assert organisation.current()[due.NORM_KEY] == 2
    assert verify(case["id"])[case["id"]].ok


def test_a_consult_task_is_due_in_two_working_days(client, people):
    case = start(client, people, "C-vraag")
    r = client.post(f"/api/v1/cases/{case['id']}/consults",
                    json={"user": "lg", "question": "Wat vindt u van de signalen?"},
                    headers=people.auth("mw"))
    assert r.status_code == 201, r.json
    task = client.get(f"/api/v1/tasks/{r.json['task_id']}", headers=people.auth("lg")).json
    assert task["step"] == "consult" and task["urgent"] is False
    assert task["due_at"] == expected_due(task, 2)
    assert [t["due_at"] for t in listed(client, people, "lg")] == [task["due_at"]]
    assert verify(case["id"])[case["id"]].ok


def _timer_version() -> list:
    """The shipped meldcode with a wait of one hour between stap 1 and stap 2."""
    from lxml import etree

    from engine.definitions import SourceFile
    from tests.conftest import ROOT

    b = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
    root = etree.fromstring((ROOT / "processes" / "meldcode.bpmn").read_bytes())
    [process] = root.iter(b + "process")
    [flow] = [f for f in root.iter(b + "sequenceFlow") if f.get("id") == "sf_stap1_stap2"]
    flow.set("targetRef", "wacht_uur")
    event = etree.Element(b + "intermediateCatchEvent", id="wacht_uur", name="Een uur")
    definition = etree.SubElement(event, b + "timerEventDefinition", id="wacht_uur_def")
    etree.SubElement(definition, b + "timeDuration").text = "PT1H"
    definition[0].set("{http://www.w3.org/2001/XMLSchema-instance}type", "bpmn:tFormalExpression")
    flow.addnext(event)
    event.addnext(etree.Element(b + "sequenceFlow", id="sf_uur_stap2", sourceRef="wacht_uur",
                                targetRef="stap2_overleg"))
    [lane] = [x for x in root.iter(b + "lane") if x.get("id") == "lane_medewerker"]
    etree.SubElement(lane, b + "flowNodeRef").text = "wacht_uur"
    bpmn = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    dmn = (ROOT / "processes" / "afwegingskader.dmn").read_bytes()
    return [SourceFile("meldcode.bpmn", bpmn), SourceFile("afwegingskader.dmn", dmn)]


def test_a_task_a_timer_makes_ready_follows_the_norm(client, people):
    from datetime import UTC, datetime, timedelta

    from engine import clock, organisation, scheduler, versions

    versions.deploy_files(_timer_version(), by="pb")
    organisation.update(people["bh"], {due.NORM_KEY: 2})
    monday = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    with clock.use(clock.ManualClock(monday)) as now:
        case = start(client, people, "C-wacht")
        assert case["tasks"][0]["due_at"] == "2026-12-02T22:59:00.000000Z"  # Wednesday
        case = complete(client, people, case["tasks"][0], ACUTE.decisions)
        assert case["tasks"] == []
        now.set(monday + timedelta(days=1))  # Tuesday: the hour has long passed
        assert scheduler.run_due() == 1
        [task] = listed(client, people)
        assert task["step"] == "stap2_overleg"
        assert task["ready_at"] == "2026-12-01T09:00:00.000000Z"
        assert task["due_at"] == "2026-12-03T22:59:00.000000Z"  # Thursday: the norm of 2
    assert verify(case["id"])[case["id"]].ok


def test_moving_cases_to_another_version_keeps_due_dates_and_urgency(client, people, monkeypatch):
    from engine import definitions, migration
    from engine.definitions import SourceFile
    from tests.helpers import relabelled, store_version

    acute = walk_until(client, people, start(client, people, "C-verhuis"), ACUTE.decisions,
                       "melding_voorbereiden")
    before = {t["id"]: t for t in acute["tasks"]}
    melding = next(t for t in acute["tasks"] if t["step"] == "melding_voorbereiden")
    with store.unit_of_work(write=True) as session:  # the flag as a row of an older release
        task_rows.resealed(session.get_one(models.TaskRecord, melding["id"]), urgent=False)
    dmn = [f for f in definitions.shipped_files() if f.kind == "dmn"]
    newer = store_version([SourceFile("meldcode.bpmn", relabelled(" (nieuw)")), *dmn], monkeypatch)
    migration.move_cases(people["pb"], acute["process_version"], newer)
    after = {t["id"]: t for t in listed(client, people) if t["case_id"] == acute["id"]}
    assert set(after) == {i for i, t in before.items() if t["lane"] == "medewerker"}
    for task_id, task in after.items():
        # the urgency worked out again on the new version; the due dates as they were
        assert (task["urgent"], task["due_at"]) == (before[task_id]["urgent"], before[task_id]["due_at"])
    assert after[melding["id"]]["urgent"] is True
    assert verify(acute["id"])[acute["id"]].ok


def test_a_date_outside_the_years_a_form_takes_is_a_field_error_at_every_door(app, client,
                                                                              people):
    """A date field takes 1900-01-01 to 2100-12-31 (engine/forms.py DATE_RANGE): the year 1
    was a 400 from the database, the year 9999 a timer that waits eight thousand years (issue
    13 break-it). A 422 naming the field, nothing stored, through the API and the web form."""
    help_only = next(s for s in SCENARIOS if s.name == "alleen_hulp_effectief")
    case = walk_until(client, people, start(client, people, "C-datum"), help_only.decisions,
                      "hulp_organiseren")
    task = next(t for t in case["tasks"] if t["step"] == "hulp_organiseren")
    form = client.get(f"/api/v1/tasks/{task['id']}", headers=people.auth("mw")).json
    web = Client(app)
    web.login("mw")
    for day in ("0001-01-01", "1899-12-31", "2101-01-01", "9999-12-31"):
        data = fill(form["form"]["fields"], {**help_only.decisions, "hulp_evaluatiedatum": day})
        r = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data},
                        headers=people.auth("mw"))
        assert r.status_code == 422, (day, r.status_code, r.json)
        assert list(r.json["errors"]) == ["hulp_evaluatiedatum"]
        assert "1900" in r.json["errors"]["hulp_evaluatiedatum"], r.json
        page = web.post(f"/taken/{task['id']}", {
            "actie": "afronden", **{k: ("ja" if v is True else "nee" if v is False else v)
                                    for k, v in data.items()}})
        assert page.status_code == 422, day
        assert 'href="#veld-hulp_evaluatiedatum"' in text(page)
    again = client.get(f"/api/v1/cases/{case['id']}", headers=people.auth("mw")).json
    assert [t["id"] for t in again["tasks"] if t["step"] == "hulp_organiseren"] == [task["id"]]
    for day in ("1900-01-01", "2100-12-31"):  # the edges are dates a form takes
        assert forms_accept(form, help_only.decisions, day)


def forms_accept(form, decisions, day) -> bool:
    import dataclasses

    from engine import definitions, forms

    # the years' edges, apart from the field's own bound (not_before today: a planned
    # evaluation is never in the past, issue 14 break-it)
    fields = [dataclasses.replace(f, not_before=None) for f in
              definitions.load(definitions.shipped_files()).steps["hulp_organiseren"].fields]
    data = fill(form["form"]["fields"], {**decisions, "hulp_evaluatiedatum": day})
    return forms.validate(fields, data)["hulp_evaluatiedatum"] == day


def test_the_web_forms_date_picker_offers_only_the_days_the_field_takes(app, client, people):
    """The date input's min and max are the field's bound (engine/forms.py date_bounds): a
    planned evaluation from today on, a date of what happened up to today, others the years a
    form takes. The form has novalidate: the server's Dutch message still decides."""
    from engine import forms

    today = forms.today().isoformat()
    help_only = next(s for s in SCENARIOS if s.name == "alleen_hulp_effectief")
    case = walk_until(client, people, start(client, people, "C-kiezer"), help_only.decisions,
                      "hulp_organiseren")
    task = next(t for t in case["tasks"] if t["step"] == "hulp_organiseren")
    api_form = client.get(f"/api/v1/tasks/{task['id']}", headers=people.auth("mw")).json
    assert {"name": "hulp_evaluatiedatum", "not_before": "today"}.items() <= next(
        f for f in api_form["form"]["fields"] if f["name"] == "hulp_evaluatiedatum").items()
    web = Client(app)
    web.login("mw")
    page = text(web.get(f"/taken/{task['id']}"))
    planned = re.search(r'<input type="date" id="hulp_evaluatiedatum"[^>]*>', page).group(0)
    assert f'min="{today}"' in planned and 'max="2100-12-31"' in planned
    # stap 3's date of the talk records what happened: never after today
    talk = walk_until(client, people, start(client, people, "C-gesprek"), help_only.decisions,
                      "stap3_gesprek")
    stap3 = next(t for t in talk["tasks"] if t["step"] == "stap3_gesprek")
    page = text(web.get(f"/taken/{stap3['id']}"))
    happened = re.search(r'<input type="date" id="gesprek_datum"[^>]*>', page).group(0)
    assert 'min="1900-01-01"' in happened and f'max="{today}"' in happened
