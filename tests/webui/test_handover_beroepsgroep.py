"""A case follows its owner's beroepsgroep, also after a handover (issue 14 point 3): from the
handover on the forms and help texts are the new owner's group's. The `case_handed_over`
event records the change (only when the group changes), the case data takes it in the same
transaction, replay and verify make the same change, and a hand-made change of the stored
group is named by verify. Through the JSON API, on SQLite and PostgreSQL."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from engine import drafts, models, replay, store, tokens, users, versions
from tests.conftest import PASSWORD
from tests.helpers import Client, events_of, text, verify
from tests.scenarios.paths import fill

KNMG_POINT = "advies_vt_niet_reden"  # stap 2: why no advice was asked of Veilig Thuis
DOCTOR, NURSE = "Artsen: de KNMG-meldcode", "Verpleegkundigen en verzorgenden: de meldcode van V&VN"


@pytest.fixture
def api(app, people, db_url):
    """Call the API as a user; `arts` (KNMG) and `zorg` (V&VN) are medewerkers of `lg`."""
    auth = dict(people.tokens)
    with store.unit_of_work(write=True, url=db_url) as session:
        for name, group in (("arts", "knmg"), ("zorg", "vvn")):
            users.create_user(session, name, ["medewerker"], PASSWORD, "lg", beroepsgroep=group)
            auth[name] = tokens.create_token(session, name)
    client = app.test_client()

    def call(who, method, path, status=200, **kw):
        response = client.open(
            f"/api/v1{path}", method=method, headers={"Authorization": f"Bearer {auth[who]}"}, **kw
        )
        assert response.status_code == status, response.get_json()
        return response.get_json()

    return call


def fields(api, who, task) -> dict[str, dict]:
    return {f["name"]: f for f in api(who, "GET", f"/tasks/{task['id']}")["form"]["fields"]}


def ready(case, step):
    return next(t for t in case["tasks"] if t["step"] == step)


def through_stap1(api, who):
    """A case `who` starts and completes stap 1 of (no children); the case then."""
    case = api(who, "POST", "/cases", status=201, json={"client_ref": f"C-{who}"})
    task = ready(case, "stap1_signalen")
    data = {
        **fill(list(fields(api, who, task).values()), {"kindcheck_kinderen": False}),
        "geweldsvormen": ["lichamelijk"],
    }
    if who == "arts":
        data["letselduiding"] = "Hematoom bovenarm"  # a KNMG point, asked of a doctor only
    return api(who, "POST", f"/tasks/{task['id']}/complete", json={"data": data})


def hand_over(api, who, case, to):
    return api(who, "POST", f"/cases/{case['id']}/handover", json={"user": to, "reason": "Andere afdeling"})


def stap2(api, who, case, **extra):
    task = ready(case, "stap2_overleg")
    data = fill(
        list(fields(api, who, task).values()), {"advies_veilig_thuis": False, "gesprek_uitzondering": "geen"}
    )
    data.pop(KNMG_POINT, None)
    return task, {**data, **extra}


def verified(case_id):
    verdict = verify(case_id)[case_id]
    assert verdict.ok, verdict.problems
    return verdict


def test_a_doctors_case_handed_to_a_nurse_follows_the_nurses_group(api, db_url):
    case = through_stap1(api, "arts")
    assert case["data"]["beroepsgroep"] == "artsen"
    assert KNMG_POINT in fields(api, "arts", ready(case, "stap2_overleg"))

    case = hand_over(api, "arts", case, "zorg")
    assert case["owner"] == "zorg" and case["data"]["beroepsgroep"] == "verpleegkundigen"
    assert case["data"]["letselduiding"] == "Hematoom bovenarm"  # recorded answers stay history
    last = events_of(case["id"])[-1]
    assert (last.action, last.data) == (
        "case_handed_over",
        {
            "from": "arts",
            "to": "zorg",
            "reason": "Andere afdeling",
            "beroepsgroep_van": "artsen",
            "beroepsgroep": "verpleegkundigen",
        },
    )
    assert api("zorg", "GET", f"/cases/{case['id']}/verify")["ok"] is True
    verified(case["id"])

    # the open task's form is the nurse's: no KNMG point, neither on the form nor in a draft
    task = ready(case, "stap2_overleg")
    on_form = fields(api, "zorg", task)
    assert KNMG_POINT not in on_form
    saved = drafts.save(
        _principal("zorg"), task["id"], {KNMG_POINT: "Zelf deskundig", "overleg_met": "Collega X"}
    )
    assert saved["data"] == {"overleg_met": "Collega X"}

    # the nurse completes stap 2 without the doctor's reason; one sent anyway is refused
    task, data = stap2(api, "zorg", case)
    refused = api(
        "zorg",
        "POST",
        f"/tasks/{task['id']}/complete",
        status=422,
        json={"data": {**data, KNMG_POINT: "niet gevraagd"}},
    )
    assert set(refused["errors"]) == {KNMG_POINT}
    case = api("zorg", "POST", f"/tasks/{task['id']}/complete", json={"data": data})
    assert KNMG_POINT not in case["data"]

    # a later change of the owner's own group leaves the open case alone: only a handover does
    with store.unit_of_work(write=True, url=db_url) as session:
        users.set_beroepsgroep(session, "zorg", "knmg")
    assert api("zorg", "GET", f"/cases/{case['id']}")["data"]["beroepsgroep"] == "verpleegkundigen"
    assert "client_niet_bereikt" not in fields(api, "zorg", ready(case, "stap3_gesprek"))
    verified(case["id"])
    # the group lives in the case data only: no gateway or timer reads it, the workflow's own
    # data never held it, so the handover had nothing to change there
    with store.unit_of_work(url=db_url) as session:
        assert b"beroepsgroep" not in session.get(models.Case, case["id"]).workflow_state


def _principal(name):
    with store.unit_of_work() as session:
        user = session.scalar(select(models.User).where(models.User.name == name))
        return users.Principal.of(user, "127.0.0.1")


def test_a_nurses_case_handed_to_a_doctor_asks_the_knmg_points(api, app, db_url):
    case = through_stap1(api, "zorg")
    assert KNMG_POINT not in fields(api, "zorg", ready(case, "stap2_overleg"))

    case = hand_over(api, "zorg", case, "arts")
    assert case["data"]["beroepsgroep"] == "artsen" and "letselduiding" not in case["data"]
    task, data = stap2(api, "arts", case)
    assert fields(api, "arts", task)[KNMG_POINT]["required_when"] == "advies_veilig_thuis == False"
    refused = api("arts", "POST", f"/tasks/{task['id']}/complete", status=422, json={"data": data})
    assert set(refused["errors"]) == {KNMG_POINT}
    case = api(
        "arts", "POST", f"/tasks/{task['id']}/complete", json={"data": {**data, KNMG_POINT: "Zelf deskundig"}}
    )
    assert case["data"][KNMG_POINT] == "Zelf deskundig"
    assert {"client_niet_bereikt", "bereik_pogingen"} <= set(
        fields(api, "arts", ready(case, "stap3_gesprek"))
    )
    verified(case["id"])

    # the case page names the doctor's group; its history the handover with the change, in Dutch
    browser = Client(app)
    browser.login("arts")
    page = html.unescape(text(browser.get(f"/casussen/{case['id']}")))
    group = page[page.index('id="beroepsgroep"') :]
    assert group[: group.index("</dl>")].count(DOCTOR) == 1 and NURSE not in group[: group.index("</dl>")]
    handover = page[page.index("Andere afdeling") - 2000 : page.index("Andere afdeling") + 2000]
    assert "Beroepsgroep van de casus tot nu toe" in handover and NURSE in handover
    assert "Beroepsgroep van de casus vanaf nu" in handover and DOCTOR in handover


def test_a_handover_within_the_group_records_no_change(api):
    case = through_stap1(api, "mw")  # mw and mw2 follow the organisation's group
    case = hand_over(api, "mw", case, "mw2")
    assert case["data"]["beroepsgroep"] == "sociaal_domein"
    assert events_of(case["id"])[-1].data == {"from": "mw", "to": "mw2", "reason": "Andere afdeling"}
    verified(case["id"])
    # to a colleague of another group: the event records it
    case = hand_over(api, "mw2", case, "arts")
    assert {k: events_of(case["id"])[-1].data[k] for k in ("beroepsgroep_van", "beroepsgroep")} == {
        "beroepsgroep_van": "sociaal_domein",
        "beroepsgroep": "artsen",
    }
    verified(case["id"])


def test_a_draft_of_the_open_task_keeps_only_the_new_forms_answers(api, db_url):
    """Today only the old owner can have a draft of a medewerker task, and the handover deletes
    theirs; a draft of anyone else on an open task of the case (any lane) is cut to the form the
    new group gives, as drafts.save cuts one: planted here as if saved before."""
    case = through_stap1(api, "arts")
    task = ready(case, "stap2_overleg")
    with store.unit_of_work(write=True, url=db_url) as session:
        zorg = session.scalar(select(models.User.id).where(models.User.name == "zorg"))
        session.add(
            models.Draft(
                user_id=zorg,
                task_id=task["id"],
                saved_at=models.utcnow(),
                data={KNMG_POINT: "Zelf deskundig", "overleg_met": "Collega X"},
            )
        )
    hand_over(api, "arts", case, "zorg")
    with store.unit_of_work(url=db_url) as session:
        kept = session.scalar(select(models.Draft.data).where(models.Draft.task_id == task["id"]))
    assert kept == {"overleg_met": "Collega X"}


def test_verify_names_a_group_changed_by_hand(api, db_url):
    case = hand_over(api, "arts", through_stap1(api, "arts"), "zorg")
    with store.unit_of_work(write=True, url=db_url) as session:  # back to the doctor's, by hand
        row = session.get(models.Case, case["id"])
        row.data = {**row.data, "beroepsgroep": "artsen"}
    verdict = verify(case["id"])[case["id"]]
    assert not verdict.ok
    assert any("andere waarde: 'beroepsgroep'" in str(p) for p in verdict.problems), verdict.problems


def test_replay_checks_the_group_a_handover_records(api, db_url):
    case = hand_over(api, "arts", through_stap1(api, "arts"), "zorg")
    with store.unit_of_work(url=db_url) as session:
        definition = versions.definition_for(session, case["process_version"])
    events = events_of(case["id"])
    replayed, problems = replay.replay_events(definition, case["id"], events)
    assert problems == [] and replayed.data["beroepsgroep"] == "verpleegkundigen"

    # a handover event that names another group than the case had, or none the product knows
    handover = events[-1]
    for wrong, found in (
        ({"beroepsgroep_van": "sociaal_domein"}, "had"),
        ({"beroepsgroep": "tandartsen"}, "onbekende beroepsgroep"),
    ):
        handover.data = {**handover.data, **wrong}
        _, problems = replay.replay_events(definition, case["id"], events)
        assert len(problems) == 1 and found in str(problems[0]), problems
        handover.data = {k: v for k, v in handover.data.items() if k not in wrong}
        handover.data.update({"beroepsgroep_van": "artsen", "beroepsgroep": "verpleegkundigen"})
