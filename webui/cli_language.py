"""The `meldcode` command speaks Dutch also where click itself speaks (`Gebruik:`, `Fout: ...`,
`Toon deze hulptekst en stop.`, `[verplicht]`): click marks its own texts with the standard
library's gettext, and translations/click/nl/LC_MESSAGES/click.mo holds them in Dutch
(translations/click/update_click.py brings it up to date after a click upgrade).

webui/cli.py calls `speak_dutch()` when it is imported, before its click decorators run:
click translates some texts when an option is made (a `click.Path`'s name), the rest while it
parses and answers, which happens before any command callback. So both the installed script
and `CliRunner().invoke(main, ...)` get Dutch.
"""

from __future__ import annotations

import gettext
import os
from pathlib import Path

DOMAIN = "click"
CATALOGUES = Path(__file__).resolve().parent / "translations" / "click"


def speak_dutch() -> None:
    """Make click's texts Dutch in this process, whatever the operator's locale.

    click calls the module-level `gettext.gettext` and `gettext.ngettext`. Those translate in
    the current text domain, from the directory bound to it, and take the language only from
    the environment: LANGUAGE, LC_ALL, LC_MESSAGES, LANG, the first one set. The documented
    `gettext.translation(..., languages=["nl"])` would fix the language, but click never asks
    it; so the documented way to choose the language of those functions is LANGUAGE, which
    comes first (also before LANG=C). It is set in this process only (and the programs it
    starts, such as pg_dump, whose messages are then Dutch too where they have Dutch);
    the operator's shell keeps its own. The product's own texts do not use this domain (they
    are Dutch in the code, or in Flask-Babel's catalogues in translations/, with the locale
    chosen explicitly).
    """
    os.environ["LANGUAGE"] = "nl"
    gettext.bindtextdomain(DOMAIN, str(CATALOGUES))
    gettext.textdomain(DOMAIN)
