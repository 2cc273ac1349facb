"""Bring the catalogues up to date with the code: extract, update, fill `nl`, compile.

    .venv/bin/python webui/translations/update.py

The texts come from webui/ (`_`, `_l` and the like) and from engine/ (the engine's messages,
marked with `N_`: engine/messages.py), into one catalogue. The msgids are the Dutch texts
themselves, so `nl` is complete by copying each msgid; `en` gets new texts untranslated: fill
them in en/LC_MESSAGES/messages.po and run this again (tests/webui/test_ui_i18n.py requires
both complete).
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po, write_po

HERE = Path(__file__).resolve().parent
WEBUI = HERE.parent
ENGINE = WEBUI.parent / "engine"


def pybabel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *args])


def main() -> None:
    pot = HERE / "messages.pot"
    pybabel("extract", "-F", str(HERE / "babel.cfg"), "-k", "_l", "-k", "N_", "--no-location",
            "-o", str(pot), str(WEBUI), str(ENGINE))
    pybabel("update", "-i", str(pot), "-d", str(HERE), "--omit-header", "--ignore-obsolete",
            "--no-fuzzy-matching")
    for lang in ("nl", "en"):
        path = HERE / lang / "LC_MESSAGES" / "messages.po"
        with open(path, "rb") as fh:
            catalogue = read_po(fh, locale=lang)
        catalogue.fuzzy = False  # the header: a fuzzy catalogue is not compiled
        for message in catalogue:
            string = message.string  # a str, or one per plural form
            if lang == "nl" and message.id and not (
                string if isinstance(string, str) else all(string or ())
            ):
                message.string = message.id
        with open(path, "wb") as fh:
            write_po(fh, catalogue, width=100, no_location=True)
    pybabel("compile", "-d", str(HERE))


if __name__ == "__main__":
    main()
