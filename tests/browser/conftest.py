"""Browser tests: Playwright for Python driving Debian's Chromium against a real
`meldcode serve` on an SQLite database with one user per role."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, ROOT, LiveServer, need

CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"

# name, roles, manager, display name
USERS = [
    ("lg", ["leidinggevende"], None, "Lotte Leidinggevende"),
    ("mw", ["medewerker"], "lg", "Mila Medewerker"),
    ("mw2", ["medewerker"], None, "Mo Medewerker"),
    ("af", ["aandachtsfunctionaris"], None, "Aziz Aandachtsfunctionaris"),
    ("aud", ["auditor"], None, "Anna Auditor"),
    ("pb", ["procesbeheerder"], None, "Peter Procesbeheerder"),
    ("bh", ["beheerder"], None, "Bart Beheerder"),
]


def make_database(path: Path) -> str:
    from engine import schema, store, users, versions

    url = f"sqlite:///{path}"
    schema.upgrade(url)
    with store.unit_of_work(write=True, url=url) as session:
        versions.ensure_deployed(session, by="test")
        for name, roles, manager, display in USERS:
            users.create_user(session, name, roles, PASSWORD, manager, display)
    return url


def start_server(tmp: Path, **env) -> tuple[LiveServer, str]:
    url = make_database(tmp / "meldcode.sqlite")
    server = LiveServer(url, dict(os.environ, MELDCODE_DATABASE_URL=url, **env))
    return server, url


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory):
    need(CHROMIUM.exists(), "Chromium is not installed (apt-get install chromium)")
    need((ROOT / "webui" / "static" / "build" / "viewer.js").exists(),
         "the bpmn-js bundle is not built (npm ci && npm run build)")
    server, url = start_server(tmp_path_factory.mktemp("ui"))
    server.url = url
    yield server
    server.stop()


@pytest.fixture(scope="session")
def base_url(ui_server):
    return ui_server.base


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    need(CHROMIUM.exists(), "Chromium is not installed (apt-get install chromium)")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM),
            "args": ["--disable-gpu", "--disable-quic", "--lang=nl-NL"]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "nl-NL", "timezone_id": "Europe/Amsterdam",
            "viewport": {"width": 1360, "height": 900}}


@pytest.fixture(autouse=True)
def no_csp_violations(request):
    """Any page a test opens must run without Content-Security-Policy violations."""
    messages: list[str] = []
    if "page" in request.fixturenames:
        page = request.getfixturevalue("page")
        page.on("console", lambda m: messages.append(m.text))
    yield
    violations = [m for m in messages if "Content Security Policy" in m]
    assert not violations, violations


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def login(page, name: str, password: str = PASSWORD) -> None:
    page.goto("/aanmelden")
    page.get_by_label("Gebruikersnaam").fill(name)
    page.get_by_label("Wachtwoord").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Aanmelden").click()


def axe_violations(page) -> list[dict]:
    """Serious and critical axe-core violations on the current page."""
    need(AXE.exists(), "axe-core is not installed (npm ci)")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"],
         "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"] if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture(scope="session")
def doctor(ui_server) -> str:
    """A medewerker of the beroepsgroep artsen (KNMG: the doctor's own fields and route), made
    once for the session's server. Out: the user name."""
    from engine import store, users

    with store.unit_of_work(write=True, url=ui_server.url) as session:
        users.create_user(session, "arts", ["medewerker"], PASSWORD, None, "Ada Arts")
        users.set_beroepsgroep(session, "arts", "artsen", by="test")
    return "arts"
