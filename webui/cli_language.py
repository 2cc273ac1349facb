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
from typing import Any

import click

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


# --- the placeholders in usage and help lines ------------------------------------------------
# click writes these itself, in English and outside its catalogue: `[OPTIONS]` and
# `COMMAND [ARGS]...` are plain strings (Command.options_metavar, Group.subcommand_metavar),
# a parameter's placeholder is its type's name (TEXT, INTEGER RANGE) or, for an argument, its
# Python name in capitals (NAME, CASE_IDS). DutchGroup and DutchCommand give every command
# of the group Dutch ones: webui/cli.py's group is a DutchGroup, so each command and group
# made with its decorators is one too.

OPTIONS = "[OPTIES]"
SUBCOMMAND = "OPDRACHT [ARGUMENTEN]..."

# An argument's placeholder by its Python name; click adds [ ] when it is optional and ...
# when it takes more than one value. An argument not named here keeps click's capitals (and
# tests/webui/test_cli_language.py fails): name it here when you add one.
ARGUMENT_WORDS = {
    "name": "NAAM",
    "files": "BESTAND",
    "file": "BESTAND",
    "case_id": "CASUSNUMMER",
    "case_ids": "CASUSNUMMER",
    "token_id": "TOKENNUMMER",
    "groep": "GROEP",
}
# An option's placeholder by its Python name, where that says more than its type
OPTION_WORDS = {
    "host": "ADRES",
    "manager": "NAAM",
    "display_name": "NAAM",
    "by": "NAAM",
    "as_user": "NAAM",
    "workers": "AANTAL",
    "jobs": "AANTAL",
    "metrics_port": "POORT",
    "port": "POORT",
    "interval": "SECONDEN",
}
# else by click's type name (ParamType.name): the built-in types that name themselves in English
TYPE_WORDS = {
    "text": "TEKST",
    "integer": "GETAL",
    "integer range": "GETAL",
    "float": "GETAL",
    "float range": "GETAL",
    "boolean": "JA|NEE",
    "uuid": "UUID",
    "filename": "BESTAND",
}


def dutch_metavar(param: click.Parameter) -> str | None:
    """The Dutch placeholder of `param` as click would build it (brackets for an optional
    argument, ... for more than one value), or None where click's own is not English: a
    placeholder given with metavar=, a flag, a Choice ([a|b]), a Path (named in click's
    catalogue, so Dutch already), or a type of the product's own with a Dutch name."""
    if param.metavar is not None or getattr(param, "is_flag", False) \
            or getattr(param, "count", False):
        return None
    if isinstance(param, click.Argument):
        word = ARGUMENT_WORDS.get(param.name or "")
        if word is None:
            return None
        if not param.required:
            word = f"[{word}]"
    else:
        word = OPTION_WORDS.get(param.name or "") or TYPE_WORDS.get(param.type.name)
        if word is None:
            return None
    return word + ("..." if param.nargs != 1 else "")


class DutchCommand(click.Command):
    """A click Command with Dutch placeholders: `[OPTIES]`, and each parameter's from
    dutch_metavar (set as its metavar when the command is made)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("options_metavar", OPTIONS)
        super().__init__(*args, **kwargs)
        for param in self.params:
            word = dutch_metavar(param)
            if word is not None:
                param.metavar = word


class DutchGroup(DutchCommand, click.Group):
    """A click Group as DutchCommand, with `OPDRACHT [ARGUMENTEN]...`; the commands made with
    its decorators are DutchCommands, the groups made with them of this group's class."""

    command_class = DutchCommand
    group_class = type

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("subcommand_metavar", SUBCOMMAND)
        super().__init__(*args, **kwargs)
