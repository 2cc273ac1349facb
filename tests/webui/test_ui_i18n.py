"""The UI's texts are all in the catalogues: nl and en complete, .mo files current. The texts
are those of webui/ and the engine's messages (engine/, marked with N_).
Fix a failure with: .venv/bin/python webui/translations/update.py (and translate what it adds
in en/LC_MESSAGES/messages.po)."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

WEBUI = Path(__file__).resolve().parents[2] / "webui"
ENGINE = WEBUI.parent / "engine"
TRANSLATIONS = WEBUI / "translations"


def _ids_in_code() -> set:
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None,
                "N_": None}
    found = set()
    for root in (WEBUI, ENGINE):
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(root), method_map=method_map, keywords=keywords
        ):
            found.add(message if isinstance(message, str) else tuple(message))
    return {m for m in found if m}


def _key(message) -> object:
    return message.id if isinstance(message.id, str) else tuple(message.id)


def _plain(string):
    return string if isinstance(string, str) else tuple(string)


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_catalogue_is_complete_and_compiled(lang):
    po_path = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
    with open(po_path, "rb") as fh:
        catalogue = read_po(fh)
    translated = {_key(m) for m in catalogue if m.id and m.string and (
        isinstance(m.string, str) or all(m.string))}
    missing = _ids_in_code() - {_key(m) for m in catalogue if m.id}
    assert not missing, f"{lang}: run webui/translations/update.py: {sorted(map(str, missing))}"
    untranslated = _ids_in_code() - translated  # both complete: the English UI shows no Dutch
    assert not untranslated, f"{lang}: untranslated: {sorted(map(str, untranslated))}"
    with open(po_path.with_suffix(".mo"), "rb") as fh:
        compiled = read_mo(fh)
    assert {_key(m) for m in compiled if m.id} >= translated, f"{lang}: run pybabel compile"
    for message in catalogue:
        if _key(message) in translated:
            strings = compiled.get(message.id).string
            assert _plain(strings) == _plain(message.string), \
                f"{lang}: .mo is older than .po (run pybabel compile)"
