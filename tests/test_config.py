"""One configuration module: engine/config.py lists every environment variable the product
reads, the README's "Configuratie" table lists the same ones with the same type, default and
meaning, and nothing else in engine/ or webui/ reads the environment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine import config, settings, store

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Configuratie"

# Files that may still read os.environ themselves, each with the reason.
ALLOWED_READERS = {
    "engine/config.py": "the configuration module itself",
    # Reads its variables through engine.config; it only writes PROMETHEUS_MULTIPROC_DIR for
    # the workers (prometheus-client reads it there) and hands the environment on to pg_dump.
    "webui/cli.py": "sets the metrics folder for the workers, passes the environment to pg_dump",
    # Reads no setting: it writes LANGUAGE=nl, the one way the standard library's gettext (which
    # click's own texts go through) takes a language.
    "webui/cli_language.py": "sets LANGUAGE for click's texts in the command's own process",
}


def table_rows() -> list[str]:
    """The table the README should hold, made from the Settings model."""
    rows = ["| Variabele | Type | Standaard | Betekenis |", "| --- | --- | --- | --- |"]
    for field in config.Settings.model_fields.values():
        extra = field.json_schema_extra
        rows.append(f"| `{extra['env']}` | {extra['type']} | {extra['default']} | "
                    f"{field.description} |")
    return rows


def readme_rows() -> list[str]:
    text = (ROOT / "README.md").read_text()
    assert SECTION in text, f"README has no section {SECTION!r}"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return [line.strip() for line in section.splitlines() if line.startswith("|")]


def test_the_readme_table_lists_every_variable_of_the_settings_model():
    documented = [re.match(r"\| `([A-Z0-9_]+)`", row) for row in readme_rows()[2:]]
    names = [m.group(1) if m else None for m in documented]
    assert sorted(n for n in names if n) == sorted(config.NAMES)
    # And with the same type, default and meaning (the model is the source: paste its rows).
    assert readme_rows() == table_rows(), "\n".join(table_rows())


def test_every_setting_has_a_meaning_a_type_and_a_default():
    for name, field in config.Settings.model_fields.items():
        assert field.description and field.description.endswith("."), name
        assert field.json_schema_extra["type"] and field.json_schema_extra["default"], name
        assert field.validation_alias in config.NAMES


def test_only_the_configuration_module_reads_the_environment():
    readers = set()
    for folder in ("engine", "webui"):
        for path in (ROOT / folder).rglob("*.py"):
            source = path.read_text()
            if re.search(r"\bos\.environ\b|\bgetenv\(|\bfrom os import\b.*\benviron\b", source):
                readers.add(str(path.relative_to(ROOT)))
    assert readers <= set(ALLOWED_READERS), readers - set(ALLOWED_READERS)


def test_every_variable_named_in_the_code_is_a_setting():
    named = set()
    for folder in ("engine", "webui"):
        for path in (ROOT / folder).rglob("*.py"):
            named |= set(re.findall(r"\b(MELDCODE_[A-Z0-9_]+|PROMETHEUS_MULTIPROC_DIR)\b",
                                    path.read_text()))
    assert named <= set(config.NAMES), named - set(config.NAMES)


def test_production_code_has_no_test_switch():
    for folder in ("engine", "webui"):
        for path in (ROOT / folder).rglob("*.py"):
            assert "MELDCODE_TEST" not in path.read_text(), path


# --- reading ------------------------------------------------------------------------------------


def test_current_follows_the_environment(monkeypatch):
    monkeypatch.setenv("MELDCODE_WRITE_LOCK_TIMEOUT", "2.5")
    assert config.current().write_lock_timeout == 2.5
    assert store.write_lock_timeout() == 2.5
    monkeypatch.delenv("MELDCODE_WRITE_LOCK_TIMEOUT")
    assert config.current().write_lock_timeout == 10.0
    assert config.current() is config.current()  # unchanged environment: the same object


def test_an_empty_variable_counts_as_unset_except_a_key(monkeypatch):
    monkeypatch.setenv("MELDCODE_LOG_LEVEL", "")
    monkeypatch.setenv("MELDCODE_TRUSTED_PROXIES", " ")
    assert config.current().log_level == "INFO" and config.current().trusted_proxies == 0
    monkeypatch.setenv("MELDCODE_HISTORY_KEY", "")
    with pytest.raises(settings.KeyRefused, match="leeg"):
        settings.history_key()


@pytest.mark.parametrize("variable,value,words", [
    ("MELDCODE_TRUSTED_PROXIES", "alle", "geheel getal van 0 tot en met 10"),
    ("MELDCODE_WRITE_LOCK_TIMEOUT", "lang", "getal (seconden)"),
    ("MELDCODE_SESSION_MAX_HOURS", "x", "getal (uren)"),
    ("MELDCODE_HTTPS", "ja", "0 of 1"),
    ("MELDCODE_WORKERS", "0", "tussen 1 en 64"),
    ("MELDCODE_LOG_LEVEL", "luid", "DEBUG, INFO"),
    ("MELDCODE_ARGON2_PROFILE", "snel", "standard of fast"),
])
def test_a_wrong_value_is_refused_in_dutch_naming_the_variable(monkeypatch, variable, value, words):
    monkeypatch.setenv(variable, value)
    with pytest.raises(config.ConfigError) as refused:
        config.current()
    assert variable in refused.value.message and words in refused.value.message
    assert isinstance(refused.value, ValueError)


def test_keys_do_not_show_in_the_settings_repr(monkeypatch):
    assert "test-history-key" not in repr(config.current())


def test_the_history_key_is_read_once_per_value(monkeypatch):
    first = settings.history_key()
    assert settings.history_key() == first
    monkeypatch.setenv("MELDCODE_HISTORY_KEY", "ander-" + "fedcba9876543210" * 2)
    assert settings.history_key() == ("ander-" + "fedcba9876543210" * 2).encode()


def test_the_argon2_profile_chooses_the_hasher(monkeypatch):
    from engine import passwords

    monkeypatch.setenv("MELDCODE_ARGON2_PROFILE", "standard")
    standard = passwords.password_hasher()
    assert standard.memory_cost == 65536 and standard.time_cost == 3
    monkeypatch.setenv("MELDCODE_ARGON2_PROFILE", "fast")
    assert passwords.password_hasher().memory_cost < standard.memory_cost
    # A hash made fast is remade with the standard parameters on the next sign-in.
    assert standard.check_needs_rehash(passwords.password_hasher().hash("x"))


# --- numbers outside their range (issue 12): refused, never clamped ----------------------------


@pytest.mark.parametrize("variable,value", [
    ("MELDCODE_SESSION_MAX_HOURS", "-1"),
    ("MELDCODE_SESSION_MAX_HOURS", "0"),  # every session would end at once
    # every sign-in ended at once (finding F6): a session must outlast filling in a form
    ("MELDCODE_SESSION_MAX_HOURS", "1e-300"),
    ("MELDCODE_SESSION_MAX_HOURS", "0.0001"),
    ("MELDCODE_SESSION_MAX_HOURS", "8761"),
    ("MELDCODE_SESSION_MAX_HOURS", "nan"),
    ("MELDCODE_WRITE_LOCK_TIMEOUT", "-3"),
    ("MELDCODE_WRITE_LOCK_TIMEOUT", "3601"),
    ("MELDCODE_WRITE_LOCK_TIMEOUT", "1e999"),  # read as infinity
    ("MELDCODE_WORKERS", "-3"),
    ("MELDCODE_WORKERS", "65"),
    ("MELDCODE_TRUSTED_PROXIES", "-1"),
    ("MELDCODE_TRUSTED_PROXIES", "11"),
    ("MELDCODE_SMTP_URL", "smtp://mail.example:0"),  # was read as port 25
    ("MELDCODE_SMTP_URL", "smtp://mail.example:65536"),
    # a sign-in limit Flask-Limiter cannot read failed every sign-in; none per minute allowed none
    ("MELDCODE_LOGIN_RATE_LIMIT", "x"),
    ("MELDCODE_LOGIN_RATE_LIMIT", "0 per minute"),
    ("MELDCODE_LOGIN_NAME_RATE_LIMIT", "10 per minute; 0 per hour"),
])
def test_a_number_outside_its_range_stops_a_command_naming_the_variable(
        monkeypatch, variable, value):
    """README "Configuratie": a value that does not fit is refused (exit 2, one Dutch line
    naming the variable), as MELDCODE_HTTPS=ja is; a negative time was made 0 without a word."""
    from tests.helpers import cli

    monkeypatch.setenv(variable, value)
    result = cli("cases")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("fout: ") and variable in result.output, result.output


def test_a_time_is_held_to_its_range_ends_included(monkeypatch):
    """The ends of each range are taken as given; just outside them is refused (before, a
    negative time was read as 0 and anything above taken)."""
    ranges = {"MELDCODE_SESSION_MAX_HOURS": (("0.25", "8760"), ("0.2499", "8760.5")),
              "MELDCODE_WRITE_LOCK_TIMEOUT": (("0", "3600"), ("-0.001", "3600.5"))}
    for variable, (taken, refused) in ranges.items():
        for value in taken:
            monkeypatch.setenv(variable, value)
            assert getattr(config.current(), config.FIELDS[variable]) == float(value)
        for value in refused:
            monkeypatch.setenv(variable, value)
            with pytest.raises(config.ConfigError, match=variable):
                config.current()
        monkeypatch.delenv(variable)
