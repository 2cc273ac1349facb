"""The `meldcode` command speaks Dutch also where click itself speaks (issue 11, break-it F8):
help, usage errors, `[verplicht]`, `[standaard: ...]`, whatever the operator's locale, run as
the installed script. click's texts come from webui/translations/click (webui/cli_language.py);
after a click upgrade run .venv/bin/python webui/translations/click/update_click.py and
translate what it lists in webui/translations/click/nl/LC_MESSAGES/click.po."""

from __future__ import annotations

import os
import re
import string
import subprocess

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from click.testing import CliRunner

from tests.conftest import ROOT
from webui.translations.click import update_click

UPDATE = "run .venv/bin/python webui/translations/click/update_click.py and translate in " \
         "webui/translations/click/nl/LC_MESSAGES/click.po what it lists"

# click's English, as it would show in these runs
ENGLISH = ["Usage:", "Options:", "Commands:", "Show this message", "Try '", "for help",
           "Error:", "Missing option", "No such option", "No such command", "Invalid value",
           "is not a valid", "Did you mean", "[required]", "[default:"]

# (arguments, exit code, Dutch texts the output must hold)
RUNS = [
    (["--help"], 0, ["Gebruik: meldcode", "Opties:", "Opdrachten:",
                     "--help  Toon deze hulptekst en stop.",
                     "Gebruikers beheren."]),  # the product's own help, unchanged
    (["user", "add", "--help"], 0, ["Gebruik: meldcode user add", "Opties:", "[verplicht]",
                                    "Toon deze hulptekst en stop.",
                                    "Lees het wachtwoord van stdin (verplicht)."]),
    (["user", "add", "x", "--role", "medewerker"], 2,
     ["Gebruik: meldcode user add", "Zie 'meldcode user add --help' voor hulp.",
      "Fout: Ontbrekende optie '--password-stdin'."]),
    (["serve", "--port", "x"], 2,
     ["Fout: Ongeldige waarde voor '--port': 'x' is geen geldig getal."]),
    (["nope"], 2, ["Zie 'meldcode --help' voor hulp.", "Fout: Onbekende opdracht 'nope'."]),
    (["verify", "--bogus"], 2, ["Fout: Onbekende optie '--bogus'."]),
]
LOCALES = {"LANG=C.UTF-8": {"LANG": "C.UTF-8"}, "LANG=en_US.UTF-8": {"LANG": "en_US.UTF-8"}}
# a few more texts, each in one locale (every run starts the whole command: seconds)
MORE = [
    (["serve", "--help"], 0, ["[standaard: 8000; 1<=x<=65535]", "[standaard: 127.0.0.1]"],
     {"LANG": "en_US.UTF-8", "LANGUAGE": "en_US:en"}),  # an operator who asks for English
    (["verif"], 2, ["Fout: Onbekende opdracht 'verif'. Bedoelt u 'verify'?"], {"LANG": "C"}),
]


@pytest.fixture(scope="module")
def base_env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli_language")
    env = {k: v for k, v in os.environ.items()
           if k not in ("LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES")}
    env.update(MELDCODE_INSTANCE=str(tmp / "instance"),
               MELDCODE_DATABASE_URL=f"sqlite:///{tmp / 'x.sqlite'}")
    return env


def _run(env, args, code, dutch):
    result = subprocess.run([str(ROOT / ".venv" / "bin" / "meldcode"), *args], env=env,
                            capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert [text for text in dutch if text not in output] == [], output
    assert [text for text in ENGLISH if text in output] == [], output


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(("args", "code", "dutch"), RUNS, ids=[" ".join(r[0]) for r in RUNS])
def test_the_installed_command_speaks_dutch(base_env, locale, args, code, dutch):
    _run({**base_env, **LOCALES[locale]}, args, code, dutch)


@pytest.mark.parametrize(("args", "code", "dutch", "locale"), MORE,
                         ids=[" ".join(r[0]) for r in MORE])
def test_more_of_clicks_texts_in_dutch(base_env, args, code, dutch, locale):
    _run({**base_env, **locale}, args, code, dutch)


def test_click_runner_gets_dutch_too():
    """Tests call the group directly: the texts are Dutch there too (the catalogue is bound
    when webui.cli is imported, before click parses)."""
    from webui.cli import main

    result = CliRunner().invoke(main, ["user", "add", "x", "--role", "medewerker"])
    assert result.exit_code == 2
    assert "Fout: Ontbrekende optie '--password-stdin'." in result.output, result.output
    assert "Missing option" not in result.output and "Usage:" not in result.output
    result = CliRunner().invoke(main, ["--help"])
    assert "Toon deze hulptekst en stop." in result.output, result.output


def _catalogue():
    with open(update_click.PO, "rb") as fh:
        return read_po(fh, locale="nl")


def _key(message):
    return message.id if isinstance(message.id, str) else tuple(message.id)


def test_every_text_of_the_installed_click_is_translated_and_compiled():
    """A click upgrade that adds or changes a text fails here with the texts to translate."""
    catalogue = _catalogue()
    translated = {_key(m) for m in catalogue if m.id and update_click.is_translated(m.string)}
    missing = [m for m in update_click.click_msgids() if m not in translated]
    assert missing == [], f"{UPDATE}; not translated: {missing}"
    unknown = update_click.unknown_dynamic_calls()
    assert unknown == [], f"click computes these msgids; add them to DYNAMIC in " \
                          f"update_click.py, then {UPDATE}: {unknown}"
    with open(update_click.MO, "rb") as fh:
        compiled = read_mo(fh)
    for message in catalogue:
        if message.id:
            strings = compiled.get(message.id)
            assert strings is not None and _plain(strings.string) == _plain(message.string), \
                f"click.mo is older than click.po: {UPDATE}"


def _plain(strings):
    return strings if isinstance(strings, str) else tuple(strings)


def _fields(text: str) -> set[str]:
    """The placeholders of a str.format or %-template: `{name!r}`, `%(prog)s`."""
    names = {name for _literal, name, _spec, _conversion in string.Formatter().parse(text)
             if name is not None}
    names |= {f"%({part.split(')', 1)[0]})" for part in text.split("%(")[1:]}
    return names


# Placeholders left out on purpose: click fills them with an English word.
LEFT_OUT = {
    "{value!r} is not a valid {number_type}.": {"number_type"},  # integer, float
    "DeprecationWarning: The {param_type} {name!r} is deprecated.{extra_message}":
        {"param_type"},  # option, argument, parameter
}


def test_translations_keep_the_placeholders():
    """A translation never asks for a value click does not give (that would crash the command
    with a KeyError), and leaves none out except the English words of LEFT_OUT."""
    for message in _catalogue():
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        given = set().union(*map(_fields, ids))
        left_out = LEFT_OUT.get(ids[0], set())
        for text in strings:
            assert _fields(text) <= given, (ids, text)
        assert set().union(*map(_fields, strings)) == given - left_out, (ids, strings)


# click's English placeholders in usage and help lines (a parameter's type name, an
# argument's Python name in capitals, [OPTIONS], COMMAND [ARGS]...)
PLACEHOLDERS = re.compile(r"\b(OPTIONS|COMMAND\d?|ARGS|TEXT|INTEGER|FLOAT|RANGE|BOOLEAN|NAME|"
                          r"FILES?|FILENAME|PATH|DIRECTORY|CASE_IDS?|TOKEN_ID|[A-Z]+_[A-Z_]*ID)\b")


def _commands(group, path=()):
    import click

    yield path, group
    if isinstance(group, click.Group):
        for name, command in group.commands.items():
            yield from _commands(command, (*path, name))


def test_every_usage_and_help_line_has_dutch_placeholders():
    """Every command's --help, and its usage line after a usage error: [OPTIES],
    OPDRACHT [ARGUMENTEN]..., NAAM, CASUSNUMMER, TEKST, GETAL; none of click's English
    placeholders (webui/cli_language.py: DutchGroup, DutchCommand)."""
    import click

    from webui.cli import main
    from webui.cli_language import ARGUMENT_WORDS

    runner = CliRunner()
    seen = []
    for path, command in _commands(main):
        shown = runner.invoke(main, [*path, "--help"], prog_name="meldcode")
        assert shown.exit_code == 0, shown.output
        refused = runner.invoke(main, [*path, "--geen-optie"], prog_name="meldcode")
        assert refused.exit_code == 2 and "Gebruik: meldcode" in refused.output, refused.output
        for output in (shown.output, refused.output):
            usage = output.split("Gebruik: ", 1)[1].splitlines()[0]
            assert "[OPTIES]" in usage, usage
            # the product's own help texts name environment variables (MELDCODE_...): only
            # the lines click builds (usage, the options' column) are checked
            options = [line.split("  ")[1] if line.startswith("  -") else ""
                       for line in output.splitlines()]
            found = PLACEHOLDERS.findall(" ".join([usage, *options]))
            assert found == [], (path, found, output)
        for param in command.params:
            if isinstance(param, click.Argument):
                assert param.name in ARGUMENT_WORDS, f"name argument {param.name} in Dutch"
        seen.append(" ".join(path))
    assert {"", "user", "user add", "token revoke", "verify", "export", "check"} <= set(seen)
    usage = runner.invoke(main, ["token", "revoke", "--help"], prog_name="meldcode").output
    assert "Gebruik: meldcode token revoke [OPTIES] NAAM [TOKENNUMMER]" in usage, usage
    usage = runner.invoke(main, ["--help"], prog_name="meldcode").output
    assert "Gebruik: meldcode [OPTIES] OPDRACHT [ARGUMENTEN]..." in usage, usage
    missing = runner.invoke(main, ["export", "--format", "json", "-o", "x.json"],
                            prog_name="meldcode")
    assert missing.exit_code == 2 and "Ontbrekend argument 'CASUSNUMMER'" in missing.output, \
        missing.output
