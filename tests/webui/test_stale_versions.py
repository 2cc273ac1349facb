"""One rule for a file set, whatever the door (issue 12, point 2): it is deployed or made
active only when it passes this release's check, as `meldcode check` says.

A version an earlier release stored with laxer checks (here: a melding whose routes meet at a
parallel join, so a case can stall, tests/helpers.planted_files) used to be made active again
by uploading its very files - through the API, the modeler and `meldcode deploy` (exit 0) - and
through the activate page, while `meldcode check` on the same files said exit 1. New cases would
then start on a version the proof refutes. Now every door refuses and nothing changes.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from engine import versions
from engine.store import unit_of_work
from tests.helpers import Client, planted_files, store_version, text
from webui.cli import main as meldcode

PLANTED_BPMN = next(f for f in planted_files() if f.kind == "bpmn").content


def active_version() -> int | None:
    with unit_of_work() as session:
        return next((r.version for r in versions.list_versions(session) if r.active), None)


@pytest.mark.parametrize("door", ["api", "modeler", "activate", "cli"])
def test_a_version_that_fails_this_releases_check_is_not_made_active_again(
        app, people, tmp_path, monkeypatch, door):
    planted = store_version(planted_files(), monkeypatch, active=False)
    path = tmp_path / "meldcode.bpmn"
    path.write_bytes(PLANTED_BPMN)
    checked = CliRunner().invoke(meldcode, ["check", str(path)])
    assert checked.exit_code == 1 and "gw_melding_samen" in checked.output  # not deployable

    if door == "api":
        r = app.test_client().post("/api/v1/processes", data=PLANTED_BPMN, headers={
            **people.auth("pb"), "Content-Type": "application/xml"})
        assert r.status_code == 422, r.get_json()
        assert any("gw_melding_samen" in e["message"] for e in r.get_json()["errors"])
    elif door == "cli":
        result = CliRunner().invoke(meldcode, ["deploy", str(path), "--user", "pb"])
        assert result.exit_code == 1, result.output
        said = [line for line in result.output.splitlines() if line.startswith(str(path))]
        assert said and said == [line for line in checked.output.splitlines()
                                 if line.startswith(str(path))]  # the same messages as check
    else:
        pb = Client(app)
        pb.login("pb")
        if door == "modeler":
            pb.get("/processen/modeler")
            r = pb.http.post("/processen/modeler/publiceren", json={"bpmn": PLANTED_BPMN.decode()},
                             headers={"Referer": "http://localhost/", "X-CSRFToken": pb.token})
            assert r.status_code == 422, r.get_json()
        else:
            pb.get(f"/processen/{planted}/actief")
            r = pb.post(f"/processen/{planted}/actief")
            assert r.status_code == 409
            assert f"Versie {planted} kan niet actief worden" in text(r)
    assert active_version() == 1  # nothing changed: new cases keep the shipped version


def test_the_refused_activation_is_worded_in_the_readers_language(app, people, monkeypatch):
    planted = store_version(planted_files(), monkeypatch, active=False)
    pb = Client(app)
    pb.login("pb")
    pb.post("/taal", {"taal": "en", "next": "/"})
    pb.get(f"/processen/{planted}/actief")
    r = pb.post(f"/processen/{planted}/actief")
    assert r.status_code == 409
    assert f"Version {planted} cannot be made active" in text(r)


def test_activating_the_version_that_is_already_active_is_no_refusal(app, people, monkeypatch):
    """The activate page of the version new cases already get says so, also when an earlier
    release stored it with laxer checks: it is not made active, so this release's check is not
    asked (before, it was asked, took seconds, and refused with a 409 "cannot be made
    active" for the version that was active)."""
    planted = store_version(planted_files(), monkeypatch, active=True)
    assert active_version() == planted
    pb = Client(app)
    pb.login("pb")
    pb.get(f"/processen/{planted}/actief")
    r = pb.post(f"/processen/{planted}/actief")
    assert r.status_code in (302, 303), text(r)
    page = text(pb.get("/processen"))
    assert f"Versie {planted} is al de actieve versie." in page
    assert active_version() == planted
