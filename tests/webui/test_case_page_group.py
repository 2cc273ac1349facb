"""The case page names the case's beroepsgroep (issue 14 point 3): the professional group
recorded at its start, whose forms and help texts the case follows (engine/professions.py). A
case started before groups were recorded has none: the page says so, and that its help texts
follow the organisation's group (professions.help_values), in the reader's language."""

from __future__ import annotations

import html

from sqlalchemy import select

from engine import cases, models, store
from tests.helpers import cli, english, text


def group_part(page: str) -> str:
    start = page.index('id="beroepsgroep"')
    return html.unescape(page[start : page.index("</dl>", start)])


def test_the_case_page_names_the_group_recorded_at_the_start(browser_like, sqlite_people):
    assert cli("user", "beroepsgroep", "mw", "vvn").exit_code == 0
    case = cases.start_case(sqlite_people["mw"], {"client_ref": "C-groep"})
    # a later change of the user's group leaves the case's own
    assert cli("user", "beroepsgroep", "mw", "knmg").exit_code == 0
    browser_like.login("mw")
    part = group_part(text(browser_like.get(f"/casussen/{case['id']}")))
    assert "Beroepsgroep" in part
    assert "Verpleegkundigen en verzorgenden: de meldcode van V&VN" in part
    assert "KNMG" not in part and "Niet vastgelegd" not in part


def test_a_case_without_a_recorded_group_says_it_follows_the_organisation(browser_like, sqlite_people):
    case = cases.start_case(sqlite_people["mw"], {"client_ref": "C-oud"})
    with store.unit_of_work(write=True) as session:  # as a case started before issue 14
        row = session.scalars(select(models.Case).where(models.Case.id == case["id"])).one()
        row.data = {k: v for k, v in row.data.items() if k != "beroepsgroep"}
    browser_like.login("mw")
    part = group_part(text(browser_like.get(f"/casussen/{case['id']}")))
    assert "Niet vastgelegd" in part
    assert "(Pedagogen, psychologen en sociaal werkers: het gezamenlijke afwegingskader)" in part
    english(browser_like, "mw")
    part = group_part(text(browser_like.get(f"/casussen/{case['id']}")))
    assert "Not recorded" in part and "Professional group" in part
    assert "(Educationalists, psychologists and social workers: the shared assessment framework)" in part
