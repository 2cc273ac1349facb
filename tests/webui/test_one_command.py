"""One command per use case, whatever the door (issue 12, point 2): the API, the web UI and the
command line call the same engine function, in one transaction, and arrive at the same outcome.

- Completing a task deletes every draft of that task, in the completion's own transaction
  (API and web; the command line completes no tasks).
- Deploying a file set (POST /api/v1/processes, the modeler's Publiceren, `meldcode deploy`):
  a new set is a new version, made active; a set identical to a deployed one is that version,
  made active again when it was not; a set that fails the check changes nothing. Activating
  the active version (the versions page) changes nothing either, and logs nothing.
- The API's process endpoints are one engine call each (process_admin), as the web's pages.
"""

from __future__ import annotations

import inspect

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from engine import audit, cases, definitions, drafts, models, process_admin, store, tasks, versions
from tests.helpers import SHIPPED_BPMN as SHIPPED
from tests.helpers import Client, relabelled, text

# Stap 1 answered as each door sends it.
STEP1 = {"api": {"signalen": "klaar", "kindcheck_kinderen": False},
         "web": {"signalen": "klaar", "kindcheck_kinderen": "nee"}}


def drafts_of(task_id: str) -> int:
    with store.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(models.Draft)
                              .where(models.Draft.task_id == task_id))


def task_state(task_id: str) -> str:
    with store.unit_of_work() as session:
        return session.get(models.TaskRecord, task_id).state


def new_case_in_web(web: Client, ref: str) -> str:
    """A case started in the web UI; the id of its first task (the page it opens)."""
    location = web.post("/casussen/nieuw", {"client_ref": ref}).headers["Location"]
    assert location.startswith("/taken/")
    web.get(location)
    return location.rsplit("/", 1)[1]


def someone_elses_draft(person, task_id: str) -> None:
    """A draft of the same task kept by another person (the rule: every draft of the task)."""
    with store.unit_of_work(write=True) as session:
        session.add(models.Draft(user_id=person.id, task_id=task_id, data={"signalen": "ook"},
                                saved_at=models.utcnow()))


def complete(door: str, client, web: Client, people, task_id: str, data: dict):
    """Complete a task as mw through `door`: the API's status, or the web form's."""
    if door == "api":
        return client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": data},
                           headers=people.auth("mw")).status_code
    return web.post(f"/taken/{task_id}", {"actie": "afronden", **data}).status_code


# --- (a) a completion deletes the task's drafts ------------------------------------------------


@pytest.mark.parametrize("door", ["api", "web"])
def test_completing_a_task_deletes_every_draft_of_it_whatever_the_door(app, people, door):
    client, web = app.test_client(), Client(app)
    web.login("mw")
    task_id = new_case_in_web(web, "C-concept")
    other_task = new_case_in_web(web, "C-ander")
    for tid in (task_id, other_task):
        assert web.post(f"/taken/{tid}", {"actie": "concept", "signalen": "half af"}
                        ).status_code == 302
    someone_elses_draft(people["lg"], task_id)
    assert drafts_of(task_id) == 2

    # A refused completion stores nothing: the drafts stay.
    assert complete(door, client, web, people, task_id, {}) == 422
    assert drafts_of(task_id) == 2 and task_state(task_id) == "ready"

    ok = complete(door, client, web, people, task_id, STEP1[door])
    assert ok == (200 if door == "api" else 302)
    assert task_state(task_id) == "completed"
    assert drafts_of(task_id) == 0  # the web's draft and the other person's
    assert drafts_of(other_task) == 1  # another task's draft is not touched
    # Completing it again is 409 through either door, and changes nothing.
    assert complete(door, client, web, people, task_id, STEP1[door]) == 409
    assert drafts_of(other_task) == 1


def test_drafts_are_deleted_in_the_completions_own_transaction(sqlite_people, monkeypatch):
    """When the completion's transaction fails after the drafts were deleted, they are back:
    no door can leave a completed task with drafts or a ready task without them."""
    mw = sqlite_people["mw"]
    task_id = cases.start_case(mw, {"client_ref": "C-tx"})["tasks"][0]["id"]
    drafts.save(mw, task_id, {"signalen": "half af"})

    def broken(*args, **kwargs):
        raise RuntimeError("the access log is gone")

    # tasks.complete_task writes its access-log line last, in the same transaction.
    with monkeypatch.context() as patched, pytest.raises(RuntimeError):
        patched.setattr(audit, "log_access", broken)
        tasks.complete_task(mw, task_id, STEP1["api"])
    assert drafts_of(task_id) == 1 and task_state(task_id) == "ready"
    tasks.complete_task(mw, task_id, STEP1["api"])
    assert drafts_of(task_id) == 0 and task_state(task_id) == "completed"


# --- (b) deploy, publish and activate: one rule for identical files ----------------------------



def deploy_through(door: str, app, people, tmp_path, bpmn: bytes) -> tuple[bool, dict | None]:
    """Deploy a BPMN file (the active version's DMN joins it) as pb through `door`:
    (accepted, {"version", "created"}) as that door reports it; None when refused."""
    if door == "api":
        r = app.test_client().post("/api/v1/processes", data=bpmn, headers={
            **people.auth("pb"), "Content-Type": "application/xml"})
        assert r.status_code in (200, 201, 422), r.get_json()
        if r.status_code == 422:
            return False, None
        assert r.get_json()["created"] is (r.status_code == 201)
        return True, {"version": r.get_json()["version"], "created": r.status_code == 201}
    if door == "web":
        pb = Client(app)
        pb.login("pb")
        pb.get("/processen/modeler")
        r = pb.http.post("/processen/modeler/publiceren", json={"bpmn": bpmn.decode()},
                         headers={"Referer": "http://localhost/", "X-CSRFToken": pb.token})
        assert r.status_code in (200, 201, 422), r.get_json()
        if r.status_code == 422:
            return False, None
        assert r.get_json()["created"] is (r.status_code == 201)
        return True, {"version": r.get_json()["version"], "created": r.status_code == 201}
    from webui.cli import main

    path = tmp_path / "meldcode.bpmn"
    path.write_bytes(bpmn)
    result = CliRunner().invoke(main, ["deploy", str(path), "--user", "pb"],
                                catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    if result.exit_code == 1:
        return False, None
    said, _, number = result.output.strip().splitlines()[-1].partition(": ")
    assert said in ("Nieuwe versie", "Ongewijzigd, bestaande versie"), result.output
    return True, {"version": int(number.split()[0]), "created": said == "Nieuwe versie"}


def version_state() -> tuple[list[int], int | None]:
    """(every version number, the active one)."""
    with store.unit_of_work() as session:
        rows = versions.list_versions(session)
        return [r.version for r in rows], next((r.version for r in rows if r.active), None)


def admin_actions() -> list[tuple[str, str, dict]]:
    with store.unit_of_work() as session:
        return [(r["user"], r["action"], r["detail"]) for r in audit.admin_log(session)
                if r["action"].startswith("process_")]


@pytest.mark.parametrize("door", ["api", "web", "cli"])
def test_identical_files_are_the_existing_version_made_active_whatever_the_door(
        app, people, tmp_path, door):
    before = admin_actions()
    # A new set: a new version, active at once.
    assert deploy_through(door, app, people, tmp_path, relabelled(" (nieuw)")) == (
        True, {"version": 2, "created": True})
    assert version_state() == ([1, 2], 2)
    # The shipped files again: version 1, which new cases get from now on.
    assert deploy_through(door, app, people, tmp_path, SHIPPED) == (
        True, {"version": 1, "created": False})
    assert version_state() == ([1, 2], 1)
    assert cases.start_case(people["mw"], {"client_ref": "C-v1"})["process_version"] == 1
    # Once more: nothing changes, nothing is logged.
    assert deploy_through(door, app, people, tmp_path, SHIPPED) == (
        True, {"version": 1, "created": False})
    assert version_state() == ([1, 2], 1)
    # Version 2's files: version 2 again.
    assert deploy_through(door, app, people, tmp_path, relabelled(" (nieuw)")) == (
        True, {"version": 2, "created": False})
    assert version_state() == ([1, 2], 2)
    # A set that fails the check changes nothing.
    broken = SHIPPED.replace(b'id="stap4_wegen"', b'id="stap4"', 1)
    assert deploy_through(door, app, people, tmp_path, broken) == (False, None)
    assert version_state() == ([1, 2], 2)
    logged = [(user, action, detail.get("version"))
              for user, action, detail in admin_actions()[len(before):]]
    assert logged == [("pb", "process_deployed", 2), ("pb", "process_activated", 1),
                      ("pb", "process_activated", 2)]


def test_the_doors_report_a_reactivation_alike(app, people, tmp_path):
    """The API and the modeler answer with the same body: the version, created, reactivated;
    the command line says so in words."""
    from webui.cli import main

    process_admin.deploy(people["pb"], [definitions.SourceFile("meldcode.bpmn", relabelled(" 2"))])
    api = app.test_client().post("/api/v1/processes", data=SHIPPED, headers={
        **people.auth("pb"), "Content-Type": "application/xml"})
    assert api.status_code == 200
    assert api.get_json()["active"] is True and api.get_json()["reactivated"] is True
    process_admin.activate(people["pb"], 2)
    pb = Client(app)
    pb.login("pb")
    pb.get("/processen/modeler")
    web = pb.http.post("/processen/modeler/publiceren", json={"bpmn": SHIPPED.decode()},
                       headers={"Referer": "http://localhost/", "X-CSRFToken": pb.token})
    assert web.status_code == 200
    assert web.get_json() == api.get_json()
    process_admin.activate(people["pb"], 2)
    path = tmp_path / "meldcode.bpmn"
    path.write_bytes(SHIPPED)
    cli = CliRunner().invoke(main, ["deploy", str(path), "--user", "pb"], catch_exceptions=False)
    assert cli.exit_code == 0
    assert cli.output.splitlines()[-1] == "Ongewijzigd, bestaande versie: 1 (weer actief)"
    again = CliRunner().invoke(main, ["deploy", str(path)], catch_exceptions=False)
    assert again.output.splitlines()[-1] == "Ongewijzigd, bestaande versie: 1"


# --- (c) the API's process endpoints: one engine call each -------------------------------------


def test_the_apis_process_endpoints_open_no_transaction_of_their_own():
    from webui import api

    for view in (api.list_processes, api.deploy_process):
        source = inspect.getsource(view)
        assert "unit_of_work" not in source and "versions." not in source, view.__name__
        assert "process_admin." in source, view.__name__


def test_the_api_and_the_versions_page_list_the_same_versions(app, people, tmp_path):
    assert deploy_through("cli", app, people, tmp_path, relabelled(" (cli)"))[0]
    assert deploy_through("web", app, people, tmp_path, relabelled(" (web)"))[0]
    assert deploy_through("api", app, people, tmp_path, SHIPPED)[0]
    client = app.test_client()
    listed = client.get("/api/v1/processes", headers=people.auth("aud")).get_json()
    assert [(v["version"], v["active"], v["deployed_by"]) for v in listed] == [
        (1, True, "test"), (2, False, "pb"), (3, False, "pb")]
    page = process_admin.versions_page(people["aud"])
    assert page["active"] == 1 and [v["version"] for v in page["versions"]] == [3, 2, 1]
    # the page gets deployed_at as a datetime (to show in Dutch time), the API as ISO text
    assert [{k: audit.iso(v[k]) if k == "deployed_at" else v[k] for k in listed[0]}
            for v in reversed(page["versions"])] == listed
    auditor = Client(app)
    auditor.login("aud")
    assert "versie-3" in text(auditor.get("/processen"))
    # Who may not read the versions is refused alike (403) through the API and the web.
    assert client.get("/api/v1/processes", headers=people.auth("mw")).status_code == 403
    mw = Client(app)
    mw.login("mw")
    assert mw.get("/processen").status_code == 403
    for who in ("mw", "bh", "aud"):
        r = client.post("/api/v1/processes", data=SHIPPED,
                        headers={**people.auth(who), "Content-Type": "application/xml"})
        assert r.status_code == 403
    assert version_state() == ([1, 2, 3], 1)


def test_activating_the_active_version_changes_nothing_and_logs_nothing(app, people):
    """Issue 12 point 2, one rule with a deploy of the active version's files (above):
    activating the version that is already active writes no `process_activated` line. The
    versions page's "Actief maken" is the one door that activates a version by its number (the
    API and the command line do it by deploying its files); clicked again, in another tab or
    twice, it says the version already was active, in the person's language."""
    process_admin.deploy(people["pb"], [definitions.SourceFile("meldcode.bpmn", relabelled(" 2"))])
    before = admin_actions()
    pb = Client(app)
    pb.login("pb")
    pb.get("/processen/1/actief")
    assert pb.post("/processen/1/actief").headers["Location"] == "/processen"
    assert "Versie 1 is nu actief" in text(pb.get("/processen"))
    assert pb.post("/processen/1/actief").headers["Location"] == "/processen"
    assert "Versie 1 is al de actieve versie." in text(pb.get("/processen"))
    pb.post("/taal", {"taal": "en", "next": "/processen"})
    pb.post("/processen/1/actief")
    assert "Version 1 is already the active version." in text(pb.get("/processen"))
    # The engine's doors under the page: the same answer, no line either.
    assert process_admin.activate(people["pb"], 1)["activated"] is False
    with store.unit_of_work(write=True) as session:
        assert versions.activate(session, 1, by="pb") is False
        assert versions.activate(session, 2, by="pb") is True
    assert version_state() == ([1, 2], 2)
    logged = [(user, action, detail) for user, action, detail in admin_actions()[len(before):]]
    assert logged == [("pb", "process_activated", {"version": 1}),
                      ("pb", "process_activated", {"version": 2})]
