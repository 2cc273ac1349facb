"""The organisation's meldcode document, complete against the handreiking (issue 14 point 4):
written by `meldcode document -o FILE --format html|pdf [--beroepsgroep KEY]` as an operator
runs it, the PDF rendered to PNG pages (pdftoppm) and read back (pdftotext), for each
professional group: every section, the key facts, the contacts from the settings, the
aandachtsfunctionarissen among the users, one form of address (u). The exit codes and the
Dutch error lines of the command; the page's ?beroepsgroep= and the settings it reads. The
command runs in the test process (tests/helpers.py operator_run: what it writes and says is
the same, without a process's imports each time), as the installed command where its process
matters: the PDF on standard output, a password on standard input."""

from __future__ import annotations

import html
import itertools
import re
import shutil
import subprocess

import pytest

from engine import definitions, expressions, forms, meldcode_doc, organisation, store
from tests.conftest import ROOT, meldcode_cli, need
from tests.helpers import DOCUMENT_SETTINGS, Client, from_scene, operator_run, text

SETTINGS = DOCUMENT_SETTINGS
# Every section of the document, by its heading.
HEADINGS = [
    "Meldcode huiselijk geweld en kindermishandeling", "Waarom deze meldcode",
    "De wet en het besluit", "Doel", "Voor wie de meldcode geldt", "Toezicht",
    "Huiselijk geweld en kindermishandeling", "Huiselijk geweld", "Kindermishandeling",
    "Vormen van geweld en mishandeling", "Bijzondere vormen van geweld", "Contactpersonen",
    "De vijf stappen", "Stap 5: twee besluiten", "De meldnormen",
    "Het afwegingskader van uw beroepsgroep", "Het gesprek met de cliënt, en de uitzonderingen",
    "Melden bij Veilig Thuis", "Vastleggen en privacy", "Kom in actie",
]
FACTS = [
    # the act and the decree, the supervisors, the sectors
    "Wet verplichte meldcode huiselijk geweld en kindermishandeling",
    "Besluit verplichte meldcode huiselijk geweld en kindermishandeling",
    "Inspectie Gezondheidszorg en Jeugd (IGJ)", "GGD", "Inspectie van het Onderwijs",
    "Inspectie Justitie en Veiligheid", "de gezondheidszorg", "het onderwijs", "de kinderopvang",
    "de maatschappelijke ondersteuning", "de jeugdhulp", "justitie", "meldrecht",
    # the special forms: expert first, faster on acute risk, vgv's norm, the IGJ report
    "eerst advies aan Veilig Thuis en aan de deskundige", "Handel dan sneller",
    "een melding bij Veilig Thuis de norm", "Wet kwaliteit, klachten en geschillen zorg (Wkkgz)",
    # the two decisions, the meldnormen and the urgent melding
    "Is melden bij Veilig Thuis noodzakelijk?", "Is hulp bieden of organiseren (ook) mogelijk?",
    "Acute onveiligheid:", "Structurele onveiligheid:", "een eerste inschatting",
    # minors and a wettelijk vertegenwoordiger
    "wettelijk vertegenwoordiger",
    # the contacts from the settings, and the aandachtsfunctionarissen among the users
    "Zorggroep De Linde", "Fatima el Amrani", "Sanne Visser", "Veilig Thuis Utrecht",
    "Voorbeeldstraat 12", "3511 AB Utrecht", "030 123 45 67", "0800-2000",
    "https://www.veiligthuis-utrecht.example/",
    # the closing call
    "Twijfelt u? Wacht dan niet tot u zeker bent.",
]
FORMS = ["Lichamelijk geweld", "Psychisch geweld", "Seksueel geweld", "Verwaarlozing",
         "Financiële uitbuiting", "Schending van rechten", "Getuige van huiselijk geweld",
         "Eergerelateerd geweld", "Huwelijksdwang", "Achterlating",
         "Vrouwelijke genitale verminking", "Ouderenmishandeling"]
# What only one professional group's document says about its afwegingskader.
OWN = {
    "artsen": ["Artsen: de KNMG-meldcode", "KNMG-meldcode kindermishandeling en huiselijk geweld",
               "Vraag in stap 2 advies aan Veilig Thuis. Doet u dat niet, leg dan vast waarom niet.",
               "(letselduiding)", "Kunt u de cliënt niet bereiken"],
    "verpleegkundigen": ["de meldcode van V&VN", "beroepsvereniging V&VN"],
    "sociaal_domein": ["het gezamenlijke afwegingskader", "beroepsverenigingen samen"],
}
INFORMAL = re.compile(r"\b(je|jij|jou|jouw|jullie)\b", re.IGNORECASE)


@pytest.fixture(scope="module")
def scenes() -> dict:
    """The scene of `configured` as built once for this module (tests/helpers.py from_scene)."""
    return {}


@pytest.fixture
def configured(ui_app, sqlite_url, scenes, tmp_path_factory):
    """The settings as a beheerder saves them, and one more aandachtsfunctionaris added with
    `meldcode user add` (only the name is in the document): done by the first test (a
    command-line run, seconds), a copy of its database for every later one (from_scene);
    each test starts from it unchanged."""

    def configure(url):
        admin = Client(ui_app)
        admin.login("bh")
        assert admin.post("/beheer/instellingen", SETTINGS).status_code == 302
        added = meldcode_cli("user", "add", "svisser", "--role", "aandachtsfunctionaris",
                             "--display-name", "Sanne Visser", "--email", "s.visser@linde.example",
                             "--password-stdin", input="een lang en zeldzaam wachtwoord 71\n")
        assert added.returncode == 0, added.stderr

    from_scene(scenes, "ingesteld", sqlite_url, tmp_path_factory, configure)
    return ui_app


def document(url: str, *args: str, **env: str):
    """`meldcode document ARGS` on the database at `url`, in the test process (operator_run)."""
    return operator_run("document", *args, url=url, env=env)


def one_line(content: str) -> str:
    return " ".join(content.split())


def html_text(page: str) -> str:
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    return one_line(html.unescape(re.sub(r"<[^>]+>", " ", page)))


def complete(content: str, group: str) -> None:
    """Every section, fact, form of violence and diagram step; the group's own words and no
    other group's; "u" as the only form of address."""
    missing = [t for t in HEADINGS + FACTS + FORMS + OWN[group] if t not in content]
    assert not missing, (group, missing)
    steps = definitions.load(definitions.shipped_files()).steps
    for step in definitions.CONTRACT_STEPS[:5]:
        assert steps[step].name in content, step
    for other, words in OWN.items():
        if other != group:
            assert not [w for w in words if w in content], (group, other)
    # under "Wat u vastlegt" exactly the fields this group's forms can ask: a KNMG point, and
    # a field shown only after one, in a doctor's document only
    asked = askable(group)
    labels = {f.label for s in steps.values() for f in s.fields if (s.id, f.name) in asked}
    for step in steps.values():
        for field in step.fields:
            if (step.id, field.name) in asked:
                assert field.label in content, (group, field.name)
            elif field.label not in labels:
                assert field.label not in content, (group, field.name)
    assert "Sanne Visser" in content and "s.visser@linde.example" not in content  # names only
    assert "{" not in content  # every placeholder filled in
    assert not INFORMAL.findall(content), INFORMAL.findall(content)


def test_the_forms_of_violence_are_the_options_of_the_diagram():
    steps = definitions.load(definitions.shipped_files()).steps
    options = [o.value for f in steps["stap1_signalen"].fields if f.name == "geweldsvormen"
               for o in f.options]
    assert options and list(meldcode_doc.VIOLENCE_FORMS) == [*options, "ouderenmishandeling"]
    assert set(OWN) == set(organisation.BEROEPSGROEPEN)  # a text for every group


# Values to try for a field of these types when looking for answers that show another field.
def tries(field) -> list:
    if field.type == "boolean":
        return [True, False]
    if field.type == "enum":
        return [o.value for o in field.options]
    if field.type == "multi":
        return [[o.value] for o in field.options]
    return []


def askable(group: str) -> set[tuple[str, str]]:
    """The fields (step id, name) a case of `group` can be asked, found by trying answers on
    the forms as the runtime shows them (forms.shown_fields): a field is askable when some
    answers to askable fields (booleans, choices) put it on its form; a condition over
    anything else may hold."""
    steps = definitions.load(definitions.shipped_files()).steps
    by_name = {f.name: f for step in steps.values() for f in step.fields}
    found: set[tuple[str, str]] = set()
    while True:
        before = set(found)
        answered = {name for _, name in found}
        for step in steps.values():
            for field in step.fields:
                reads = expressions.names_in(field.shown_when or "True") - {"beroepsgroep"}
                if any(n not in by_name or not tries(by_name[n]) for n in reads):
                    found.add((step.id, field.name))
                    continue
                known = sorted(reads & answered)
                for values in itertools.product(*(tries(by_name[n]) for n in known)):
                    data = {"beroepsgroep": group, **dict(zip(known, values, strict=True))}
                    if field.name in {f.name for f in forms.shown_fields(step.fields, data)}:
                        found.add((step.id, field.name))
                        break
        if found == before:
            return found


def test_a_field_for_some_groups_is_listed_for_those_only():
    from types import SimpleNamespace

    def field(name, shown_when=None):
        return SimpleNamespace(name=name, shown_when=shown_when)

    steps = {"a": SimpleNamespace(id="a", fields=[
        field("knmg", "beroepsgroep == 'artsen'"), field("na_knmg", "knmg == True"),
        field("daarna", "beroepsgroep == 'verpleegkundigen' or na_knmg == True"),
        field("altijd"), field("na_antwoord", "altijd == True"),
        field("gedeeld", "beroepsgroep == 'artsen'"), field("na_gedeeld", "gedeeld == True")]),
        "b": SimpleNamespace(id="b", fields=[field("gedeeld")])}
    definition = SimpleNamespace(steps=steps)
    assert meldcode_doc.not_asked(definition, "artsen") == set()
    # a field shown after a field of another group only, and so on: not asked either; one
    # shown after a field that another step asks of every group may be asked
    assert meldcode_doc.not_asked(definition, "sociaal_domein") == {
        ("a", "knmg"), ("a", "na_knmg"), ("a", "daarna"), ("a", "gedeeld")}
    assert meldcode_doc.not_asked(definition, "verpleegkundigen") == {
        ("a", "knmg"), ("a", "na_knmg"), ("a", "gedeeld")}


def test_the_document_lists_what_the_forms_of_each_group_can_ask():
    """For V&VN and the shared afwegingskader, the second attempt to reach the client before
    the melding (shown after `client_niet_bereikt`, a KNMG point) is not listed."""
    definition = definitions.load(definitions.shipped_files())
    every = {(s.id, f.name) for s in definition.steps.values() for f in s.fields}
    for group in organisation.BEROEPSGROEPEN:
        assert every - meldcode_doc.not_asked(definition, group) == askable(group), group
    second = {("melding_voorbespreken", "voorbespreken_niet_bereikt"),
              ("melding_voorbespreken", "voorbespreken_pogingen")}
    assert second <= askable("artsen")
    assert not second & (askable("sociaal_domein") | askable("verpleegkundigen"))


@pytest.mark.parametrize("group", ["artsen", "verpleegkundigen", "sociaal_domein"])
def test_the_pdf_for_each_professional_group_holds_every_section(configured, sqlite_url, tmp_path,
                                                                 group):
    need(shutil.which("pdftoppm") is not None and shutil.which("pdftotext") is not None,
         "pdftoppm and pdftotext (poppler-utils) are not installed")
    target = tmp_path / "meldcode.pdf"
    result = document(sqlite_url, "-o", str(target), "--format", "pdf", "--beroepsgroep", group)
    assert result.returncode == 0, result.stderr
    assert str(target) in result.stdout and target.read_bytes().startswith(b"%PDF-")
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(target), str(tmp_path / "pagina")],
                   check=True, timeout=120)
    pages = sorted(tmp_path.glob("pagina-*.png"))
    assert 4 <= len(pages) <= 20 and all(p.stat().st_size > 1000 for p in pages), pages
    content = subprocess.run(["pdftotext", str(target), "-"], capture_output=True, text=True,
                             check=True, timeout=60).stdout
    complete(one_line(content), group)


@pytest.mark.parametrize("group", ["knmg", "vvn", None])
def test_the_html_for_each_professional_group_holds_every_section(configured, sqlite_url,
                                                                  tmp_path, group):
    target = tmp_path / "meldcode.html"
    result = document(sqlite_url, "-o", str(target), "--format", "html",
                      *(["--beroepsgroep", group] if group else []))
    assert result.returncode == 0, result.stderr
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and '<html lang="nl">' in page
    # knmg and vvn name the groups by their meldcode; without: the organisation's setting
    key = {"knmg": "artsen", "vvn": "verpleegkundigen"}.get(group or "", SETTINGS["beroepsgroep"])
    complete(html_text(page), key)
    # each step's "Wat u vastlegt": exactly the labels of the fields this group can be asked
    asked = askable(key)
    steps = definitions.load(definitions.shipped_files()).steps.values()
    expected = {s.name: [f.label for f in s.fields if (s.id, f.name) in asked] for s in steps}
    assert records_of(page) == {name: labels for name, labels in expected.items() if labels}


STEP = re.compile(r'<div class="step">\s*<h3>(.*?)</h3>(.*?)</div>\s*(?=<div class="step">|<h2)',
                  re.S)


def records_of(page: str) -> dict[str, list[str]]:
    """Each step of the document by its name, with the items of its "Wat u vastlegt" list."""
    found = {}
    for name, body in STEP.findall(page):
        items = re.findall(r"<li>(.*?)</li>", body.split('<ul class="records">', 1)[-1], re.S)
        if '<ul class="records">' in body:
            found[html.unescape(name)] = [html.unescape(i) for i in items]
    return found


def test_dash_writes_the_document_to_standard_output(configured, tmp_path, monkeypatch):
    """`-o -` is standard output, as with other command-line tools (it wrote a file named
    "-"): the document alone on stdout, the report on stderr."""
    work = tmp_path / "werkmap"
    work.mkdir()
    monkeypatch.chdir(work)
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "meldcode"), "document",
         "-o", "-", "--format", "pdf"], capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"%PDF-") and result.stdout.rstrip().endswith(b"%%EOF")
    assert b"standaarduitvoer" in result.stderr and b"%PDF" not in result.stderr
    assert not list(work.iterdir())  # no file named "-", nor any other
    page = meldcode_cli("document", "-o", "-", "--format", "html")
    assert page.returncode == 0 and page.stdout.startswith("<!doctype html>"), page.stderr
    complete(html_text(page.stdout), SETTINGS["beroepsgroep"])
    assert "- is de standaarduitvoer" in one_line(meldcode_cli("document", "--help").stdout)


def test_the_page_follows_the_group_asked_for_and_else_the_readers_own(configured):
    mw = Client(configured)
    mw.login("mw")
    page = html_text(text(mw.get("/meldcode")))
    assert "het gezamenlijke afwegingskader" in page and "letselduiding" not in page
    knmg = mw.get("/meldcode?beroepsgroep=artsen")
    assert knmg.status_code == 200 and "letselduiding" in html_text(text(knmg))
    assert 'href="/meldcode.pdf?beroepsgroep=artsen"' in text(knmg)
    assert mw.get("/meldcode?beroepsgroep=tandartsen").status_code == 422
    standalone = html_text(text(mw.get("/meldcode/document?beroepsgroep=verpleegkundigen")))
    assert "beroepsvereniging V&VN" in standalone
    # the reader's own professional group (users.beroepsgroep) comes before the setting
    from sqlalchemy import update

    from engine import config_seals
    from engine.models import User
    with store.unit_of_work(write=True) as session:
        session.execute(update(User).where(User.name == "mw").values(beroepsgroep="artsen"))
        config_seals.seal(session)  # setup outside the product: sealed as the product would
    assert "letselduiding" in html_text(text(mw.get("/meldcode")))


def test_the_new_region_settings_are_checked(configured):
    admin = Client(configured)
    admin.login("bh")
    response = admin.post("/beheer/instellingen", {
        **SETTINGS, "veilig_thuis_regio_postcode": "35111", "veilig_thuis_regio_website":
        "javascript:alert(1)"})
    assert response.status_code == 422
    page = text(response)
    assert re.search(r'id="fout-veilig_thuis_regio_postcode">.*Nederlandse postcode', page)
    assert re.search(r'id="fout-veilig_thuis_regio_website">.*begint met https://', page)
    assert organisation.current()["veilig_thuis_regio_postcode"] == "3511 AB"  # kept
    # without its space, in small letters: stored as written on an envelope
    assert admin.post("/beheer/instellingen", {
        **SETTINGS, "veilig_thuis_regio_postcode": "1234ab"}).status_code == 302
    assert organisation.current()["veilig_thuis_regio_postcode"] == "1234 AB"


def _refused(result, expected: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    line = result.stderr.strip()
    assert line.startswith("fout: ") and expected in line, line
    assert "\n" not in line and "Traceback" not in line and "Error" not in line


def test_the_command_refuses_with_one_dutch_line(configured, sqlite_url, tmp_path):
    target = tmp_path / "meldcode.pdf"
    _refused(document(sqlite_url, "-o", str(target), "--format", "docx"),
             "onbekend formaat 'docx'; kies html of pdf")
    _refused(document(sqlite_url, "-o", str(target), "--format", "pdf", "--beroepsgroep",
                      "tandartsen"), "onbekende beroepsgroep 'tandartsen'")
    _refused(document(sqlite_url, "-o", str(tmp_path / "weg" / "m.pdf"), "--format", "pdf"),
             "bestaat niet")
    _refused(document(sqlite_url, "-o", str(tmp_path), "--format", "html"),
             "geen gewoon bestand")
    assert not target.exists()


def test_the_command_without_a_database_says_run_init_first(tmp_path):
    import sqlite3

    empty = tmp_path / "leeg.sqlite"
    sqlite3.connect(empty).close()
    result = document(f"sqlite:///{empty}", "-o", str(tmp_path / "m.html"), "--format", "html",
                      MELDCODE_INSTANCE=str(tmp_path / "instance"))
    _refused(result, "voer eerst 'meldcode init' uit")
    assert not (tmp_path / "m.html").exists()


def test_the_command_is_in_the_help():
    result = meldcode_cli("--help")
    assert result.returncode == 0 and re.search(r"^\s+document\s+Schrijf de meldcode",
                                                result.stdout, re.M), result.stdout
    own = meldcode_cli("document", "--help")
    assert "--format html|pdf" in own.stdout and "--beroepsgroep GROEP" in own.stdout
