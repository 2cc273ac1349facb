"""The README tells an operator what the access log records: every action the code writes to
it (NEN 7513), found in the code itself so a new action cannot be left out, and the rule of
`meldcode export --user NAME`."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECTION = "#### Wat het toegangslog vastlegt"

# Calls whose string arguments include the access-log action they write or refuse.
_CALLS = re.compile(r"\b(log_access|open_case|Denied|refusals_logged|_log_refused|"
                    r"_require_auditor|get_case|case_page)\(")
_CODE = re.compile(r'"([a-z_]+)"')
_ASSIGNED = re.compile(r'(?:SHOWN_IN_\w+|\baction(?:: str)?) ?= ?"([a-z_]+)"')
_OUTCOMES = {"ok", "denied"}
_GETATTR = re.compile(r"getattr\([^()]*\)")  # getattr(who, "source", None): no action


def _arguments(source: str, start: int) -> str:
    """The text between the parenthesis at `start` and the one that closes it."""
    depth = 0
    for i in range(start, len(source)):
        if source[i] == "(":
            depth += 1
        elif source[i] == ")":
            depth -= 1
            if depth == 0:
                return source[start + 1:i]
    return source[start + 1:]


def actions_in_code() -> tuple[set[str], set[str]]:
    """(every access-log action the code names, the actions whose refused changes are logged
    with a reason: commands.refusal_action adds ":invalid" and ":conflict")."""
    found, refusable = set(), set()
    for path in [*(ROOT / "engine").rglob("*.py"), *(ROOT / "webui").rglob("*.py")]:
        source = path.read_text()
        for call in _CALLS.finditer(source):
            arguments = _GETATTR.sub("", _arguments(source, call.end() - 1))
            codes = set(_CODE.findall(arguments)) - _OUTCOMES
            found |= codes
            if call.group(1) in ("refusals_logged", "_log_refused"):
                refusable |= codes
        found |= set(_ASSIGNED.findall(source))
    # the web's own names for its two person forms map onto these
    refusable |= {"hand_over", "share"} & found
    return found, refusable


def readme_section() -> str:
    text = (ROOT / "README.md").read_text()
    assert SECTION in text, f"README.md has no section {SECTION!r}"
    return text.split(SECTION, 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]


def test_the_readme_names_every_action_of_the_access_log():
    from webui.audit import ACCESS_ACTIONS

    found, refusable = actions_in_code()
    # the finder finds what it should (a guard against a regex that finds nothing)
    assert {"read", "create", "update", "export", "verify", "migrate", "search",
            "list_cases", "read_access_log"} <= found, found
    expected = found | {f"{a}:{r}" for a in refusable for r in ("invalid", "conflict")}
    # the auditor's pages label every one of them ...
    assert expected <= set(ACCESS_ACTIONS), sorted(expected - set(ACCESS_ACTIONS))
    # ... and the README names each, and each label the pages know
    named = set(re.findall(r"`([a-z_]+(?::[a-z]+)?)`", readme_section()))
    missing = (expected | set(ACCESS_ACTIONS)) - named
    assert not missing, f"README.md, {SECTION}: not named: {sorted(missing)}"


def test_the_readme_states_the_rule_of_export_user():
    section = readme_section()
    assert "`meldcode export CASUS --user NAAM`" in section
    rule = " ".join(section.split())
    assert "NAAM moet een actieve gebruiker zijn die de casus mag inzien" in rule
    assert "Zonder `--user` staat de export op naam van de OS-gebruiker" in rule


def test_architecture_page_is_linked_and_names_every_engine_module():
    """ARCHITECTURE.md (issue 12) stays a true map: the README links it, and it names every
    module of engine/."""
    root = Path(__file__).resolve().parent.parent
    assert "(ARCHITECTURE.md)" in (root / "README.md").read_text()
    page = (root / "ARCHITECTURE.md").read_text()
    modules = sorted(p.stem for p in (root / "engine").glob("*.py") if p.stem != "__init__")
    missing = [m for m in modules if f"`{m}`" not in page]
    assert not missing, f"ARCHITECTURE.md does not name: {missing}"
    # "a short ARCHITECTURE.md (a page)": it had grown to 2,800 words, a module's story each
    assert len(page.split()) <= 1000, len(page.split())
