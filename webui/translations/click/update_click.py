"""Bring click's Dutch catalogue up to date with the installed click (after a click upgrade):

    .venv/bin/python webui/translations/click/update_click.py

click marks its own texts (`Usage:`, `Error: ...`, `Show this message and exit.`, ...) with the
standard library's gettext; webui/cli_language.py makes the `meldcode` command read them from
nl/LC_MESSAGES/click.mo. This script extracts every msgid from the installed click package,
merges them into nl/LC_MESSAGES/click.po (existing translations kept, texts click no longer has
dropped, new ones added untranslated and listed) and compiles click.mo. Translate what it lists
in click.po (operators' Dutch, "u" where a sentence addresses the reader; keep the placeholders)
and run it again; tests/webui/test_cli_language.py requires every text translated.

The catalogue is the "click" domain of the standard library's gettext, not Flask-Babel's
"messages" (../update.py); this file calls no translation function itself, so the web's
catalogues do not see it.
"""

from __future__ import annotations

import ast
import sys
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

HERE = Path(__file__).resolve().parent
PO = HERE / "nl" / "LC_MESSAGES" / "click.po"
MO = PO.with_suffix(".mo")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}

# click passes these to `_` through a variable, out of the extractor's sight: the call as
# written in click's source, and the msgid it can receive.
DYNAMIC = {'_(extra["required"])': ("required",)}  # core.py: "[required]" in --help

HEADER = ("# click's own texts in Dutch, for the meldcode command (webui/cli_language.py).\n"
          "# After a click upgrade: .venv/bin/python webui/translations/click/update_click.py")

Msgid = str | tuple[str, ...]


def click_dir() -> Path:
    spec = find_spec("click")
    assert spec and spec.origin, "click is not installed"
    return Path(spec.origin).parent


def click_msgids() -> list[Msgid]:
    """Every msgid of the installed click, in the order of its source (plurals as a tuple)."""
    found: dict[Msgid, None] = {}
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(click_dir()), method_map=[("**.py", "python")], keywords=KEYWORDS
    ):
        key = message if isinstance(message, str) else tuple(message)
        if key:
            found[key] = None
    for msgids in DYNAMIC.values():
        for msgid in msgids:
            found[msgid] = None
    return list(found)


def dynamic_calls() -> list[str]:
    """Every call in click that gives `_`, `gettext` or `ngettext` something other than a
    string as it is written, as `file:line: call`. The extractor cannot see what those
    translate; each one must be in DYNAMIC with the msgids it can receive."""
    calls = []
    for path in sorted(click_dir().rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in KEYWORDS and node.args
                    and not (isinstance(node.args[0], ast.Constant)
                             and isinstance(node.args[0].value, str))):
                segment = ast.get_source_segment(source, node) or ""
                calls.append(f"{path.name}:{node.lineno}: {' '.join(segment.split())}")
    return calls


def unknown_dynamic_calls() -> list[str]:
    return [call for call in dynamic_calls() if call.split(": ", 1)[1] not in DYNAMIC]


def _key(message) -> Msgid:
    return message.id if isinstance(message.id, str) else tuple(message.id)


def is_translated(string) -> bool:
    return bool(string) if isinstance(string, str) else bool(string) and all(string)


def main() -> int:
    previous = Catalog(locale="nl")
    if PO.exists():
        with open(PO, "rb") as fh:
            previous = read_po(fh, locale="nl")
    old = {_key(m): m.string for m in previous if m.id}
    catalogue = Catalog(locale="nl", domain="click", project="click",
                        version=version("click"), fuzzy=False, header_comment=HEADER,
                        last_translator="Meldcode", language_team="Meldcode",
                        # the same header dates, so a run that changes nothing changes no file
                        creation_date=previous.creation_date,
                        revision_date=previous.revision_date)
    for msgid in click_msgids():
        string = old.get(msgid, "" if isinstance(msgid, str) else ("", ""))
        catalogue.add(msgid, string)
    PO.parent.mkdir(parents=True, exist_ok=True)
    with open(PO, "wb") as fh:
        write_po(fh, catalogue, width=100, omit_header=False, no_location=True,
                 sort_output=False)
    with open(MO, "wb") as fh:
        write_mo(fh, catalogue)
    dropped = sorted(map(str, set(old) - set(click_msgids())))
    untranslated = [str(m.id) for m in catalogue if m.id and not is_translated(m.string)]
    unknown = unknown_dynamic_calls()
    for label, items in (("no longer in click, dropped", dropped),
                         ("to translate in " + str(PO), untranslated),
                         ("calls with a computed msgid: add them to DYNAMIC", unknown)):
        if items:
            print(f"{label}:", *items, sep="\n  ")
    return 1 if untranslated or unknown else 0


if __name__ == "__main__":
    sys.exit(main())
