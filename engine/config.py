"""Every environment variable the product reads, in one place: name, type, default and meaning.

`current()` gives the settings as the environment holds them now. Nothing else in engine/ or
webui/ reads os.environ (tests/test_config.py checks that, and that README's "Configuratie"
table lists exactly these variables with these types, defaults and meanings).

Each field's `description` is the meaning shown in the README; its `json_schema_extra` holds
the type and default as the README writes them (in Dutch, for the operator). A value that does
not fit its type stops the caller with ConfigError, a Dutch message that names the variable:
a wrong setting is refused, never silently replaced by the default.
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import DomainError

ROOT = Path(__file__).resolve().parent.parent


class ConfigError(DomainError, ValueError):
    """An environment variable with a value that does not fit its type (Dutch message that
    names the variable). A ValueError too, so callers that checked values that way still do."""

    status = 500


SESSION_HOURS_MAX = 8760  # a longer maximum than a year is none
# A quarter of an hour: a session must outlast filling in one task page (a signal written out,
# a talk noted down), or every sign-in ends before its first form is sent and the product is
# unusable; 1e-300 or 0.0001 hours passed "above 0" and did just that. A quarter of an hour
# is also the shortest limit a policy names in practice (an idle screen lock of 15 minutes),
# and it reads as a plain number of hours.
SESSION_HOURS_MIN = 0.25


def session_hours_refused(name: str, value: object) -> str | None:
    """Why `value` is no maximum duration of a web session in hours, as the setting `name`
    gives it, in one Dutch line naming `name` and the range; None when it is one: a number
    (not a flag) of at least SESSION_HOURS_MIN (see there why) and at most SESSION_HOURS_MAX.
    The one rule for the environment's MELDCODE_SESSION_MAX_HOURS and the web app's
    SESSION_MAX_HOURS (webui.create_app), never a clamp: a shorter session ends before a form
    is filled in (README "Configuratie"). NaN and infinity ("nan", "inf", "1e999") fit no
    range."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if math.isfinite(value) and SESSION_HOURS_MIN <= value <= SESSION_HOURS_MAX:
            return None
        shown = f"{value:g}"
    else:
        shown = str(value)[:20]
    return (f"{name} moet een getal (uren) van minstens {SESSION_HOURS_MIN:g} (een kwartier) en "
            f"hoogstens {SESSION_HOURS_MAX} zijn, niet '{shown}'")


def _field(env: str, description: str, type_text: str, default_text: str, default=None):
    return Field(default, validation_alias=env, description=description,
                 json_schema_extra={"env": env, "type": type_text, "default": default_text})


class Settings(BaseSettings):
    """The product's configuration, read from the environment (no .env file, no other source)."""

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", frozen=True,
                                      populate_by_name=True, env_ignore_empty=False)

    # --- where the data lives
    instance: Path = _field(
        "MELDCODE_INSTANCE", "Map voor de database (SQLite) en de gegenereerde sleutels; "
        "aangemaakt met rechten 0700.", "pad", "`instance/` in de checkout", ROOT / "instance")
    database_url: str | None = _field(
        "MELDCODE_DATABASE_URL", "SQLAlchemy-URL van de database (`sqlite:///…` of "
        "`postgresql+psycopg://…`).", "URL", "`sqlite:///` + `meldcode.sqlite` in de instance-map")
    # --- keys (kept outside the database)
    secret_key: SecretStr | None = _field(
        "MELDCODE_SECRET_KEY", "Sleutel die de sessiecookies ondertekent; minstens 32 "
        "willekeurige tekens.", "geheim", "eenmalig gegenereerd in `instance/secret_key`")
    history_key: SecretStr | None = _field(
        "MELDCODE_HISTORY_KEY", "HMAC-sleutel van de hashketens van de geschiedenis en het "
        "logboek; minstens 32 willekeurige tekens.", "geheim",
        "eenmalig gegenereerd in `instance/history_key`")
    signing_key: SecretStr | None = _field(
        "MELDCODE_SIGNING_KEY", "Ed25519-sleutel (64 hexadecimale tekens) die de controlepunten "
        "van het logboek ondertekent.", "geheim (hex)", "eenmalig gegenereerd in "
        "`instance/signing_key`")
    checkpoint_public_key: str | None = _field(
        "MELDCODE_CHECKPOINT_PUBLIC_KEY", "Publieke sleutel (hex) waarmee controlepunten worden "
        "gecontroleerd, voor wie de geheime sleutel niet heeft.", "hex",
        "de publieke helft van de ondertekeningssleutel")
    checkpoint_dir: Path | None = _field(
        "MELDCODE_CHECKPOINT_DIR", "Map waarin `meldcode checkpoint` controlepunten schrijft en "
        "waarin `meldcode verify` het nieuwste zoekt; buiten de database bewaren.", "pad",
        "geen")
    proof_cache: Path | None = _field(
        "MELDCODE_PROOF_CACHE", "Map waarin de uitkomst van het bewijs van alle routes per "
        "bestandenset, productversie en dag bewaard wordt, zodat elk proces die niet opnieuw "
        "bewijst; alleen gebruikt als de map van deze gebruiker is en anderen er niet in "
        "mogen schrijven; `uit` schakelt dat uit.", "pad of `uit`", "`~/.cache/meldcode/proofs`")
    # --- web
    https: bool = _field(
        "MELDCODE_HTTPS", "`1` achter HTTPS: Secure-cookies, HSTS en https-links.", "0 of 1", "0",
        False)
    session_max_hours: float = _field(
        "MELDCODE_SESSION_MAX_HOURS", "Maximale duur van een websessie in uren, ook als de "
        "gebruiker actief blijft.", "getal (uren), minstens 0.25, hoogstens 8760", "12", 12.0)
    login_rate_limit: str = _field(
        "MELDCODE_LOGIN_RATE_LIMIT", "Maximum aantal mislukte aanmeldingen per IP-adres.",
        "limiet, minstens 1 per periode", "`10 per minute`", "10 per minute")
    login_name_rate_limit: str = _field(
        "MELDCODE_LOGIN_NAME_RATE_LIMIT", "Maximum aantal mislukte aanmeldingen per "
        "gebruikersnaam.", "limiet, minstens 1 per periode", "`10 per minute`", "10 per minute")
    ratelimit_storage: str = _field(
        "MELDCODE_RATELIMIT_STORAGE", "Waar de aanmeldlimieten tellen: `meldcode://` is de eigen "
        "database (gedeeld door alle werkprocessen), of bijvoorbeeld een `redis://`-URL.",
        "URL", "`meldcode://`", "meldcode://")
    trusted_proxies: int = _field(
        "MELDCODE_TRUSTED_PROXIES", "Aantal reverse proxy's voor de server die "
        "X-Forwarded-For zetten; 0: het adres van de verbinding is de client.",
        "geheel getal 0–10", "0", 0)
    # --- the server (`meldcode serve`)
    workers: int | None = _field(
        "MELDCODE_WORKERS", "Aantal werkprocessen van `meldcode serve` (zoals `--workers`).",
        "geheel getal 1–64", "2 × processorkernen + 1")
    write_lock_timeout: float = _field(
        "MELDCODE_WRITE_LOCK_TIMEOUT", "Hoe lang een schrijvende actie op SQLite op haar beurt "
        "wacht voor ze 503 geeft.", "getal (seconden) 0–3600", "10", 10.0)
    access_log: str | None = _field(
        "MELDCODE_ACCESS_LOG", "Bestand voor gunicorns toegangslog van HTTP-verzoeken (`-` is "
        "standaarduitvoer).", "pad", "geen")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = _field(
        "MELDCODE_LOG_LEVEL", "Niveau van het JSON-log op standaardfout.",
        "DEBUG, INFO, WARNING, ERROR of CRITICAL", "INFO", "INFO")
    prometheus_multiproc_dir: Path | None = _field(
        "PROMETHEUS_MULTIPROC_DIR", "Map voor de metriekbestanden van de werkprocessen bij "
        "`meldcode serve --metrics-port` (bij het starten geleegd).", "pad",
        "een tijdelijke map")
    # --- e-mail of notifications (engine/mail.py)
    smtp_url: str | None = _field(
        "MELDCODE_SMTP_URL", "SMTP-server voor e-mail over taken (`smtp://host:poort`); niet "
        "gezet: geen e-mail, alleen meldingen in het product.", "URL", "geen")
    mail_from: str = _field(
        "MELDCODE_MAIL_FROM", "Afzender van die e-mail.", "e-mailadres",
        "`meldcode@localhost`", "meldcode@localhost")
    base_url: str = _field(
        "MELDCODE_BASE_URL", "Adres van het product zoals gebruikers het openen; de links in "
        "e-mail beginnen ermee.", "URL", "`http://localhost:8000`", "http://localhost:8000")
    # --- operations
    pg_dump: str | None = _field(
        "MELDCODE_PG_DUMP", "Pad naar `pg_dump` voor `meldcode backup` van PostgreSQL.", "pad",
        "`pg_dump` op het zoekpad, anders `/usr/lib/postgresql/15/bin/pg_dump`")
    argon2_profile: Literal["standard", "fast"] = _field(
        "MELDCODE_ARGON2_PROFILE", "Parameters van argon2id voor wachtwoorden: `standard` "
        "(RFC 9106, 64 MiB) of `fast` (de goedkoopste; alleen voor ontwikkeling en tests, "
        "wordt bij de volgende aanmelding naar `standard` opgewaardeerd).",
        "standard of fast", "standard", "standard")

    @model_validator(mode="before")
    @classmethod
    def _empty_is_unset(cls, data):
        # An empty variable counts as unset (the default applies), except for the keys: an
        # empty key is refused by engine/settings.py with its own message.
        if isinstance(data, dict):
            keep = {"MELDCODE_SECRET_KEY", "MELDCODE_HISTORY_KEY", "secret_key", "history_key"}
            data = {k: v for k, v in data.items()
                    if k in keep or not (isinstance(v, str) and not v.strip())}
        return data

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value):
        raw = str(value).strip()
        if not raw.isdigit() or int(raw) > 10:
            raise ValueError(f"MELDCODE_TRUSTED_PROXIES moet een geheel getal van 0 tot en met 10 "
                             f"zijn, niet '{raw[:20]}'")
        return int(raw)

    @field_validator("smtp_url")
    @classmethod
    def _smtp(cls, value: str | None) -> str | None:
        if value is not None and smtp_address(value) is None:
            raise ValueError(f"MELDCODE_SMTP_URL moet de vorm smtp://host:poort hebben (poort "
                             f"1–65535), niet "
                             f"'{value[:40]}'")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, value):
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("https", mode="before")
    @classmethod
    def _flag(cls, value):
        if isinstance(value, str) and value.strip() not in ("0", "1"):
            raise ValueError("MELDCODE_HTTPS moet 0 of 1 zijn")
        return value

    @field_validator("session_max_hours")
    @classmethod
    def _session_hours(cls, value: float) -> float:
        problem = session_hours_refused("MELDCODE_SESSION_MAX_HOURS", value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("write_lock_timeout")
    @classmethod
    def _lock_timeout(cls, value: float) -> float:
        # 0: give up at once when another writer holds the turn; a negative wait has no
        # meaning (and threading's lock refuses it), an hour is longer than any request or
        # command should queue (gunicorn ends a request after 60 s).
        if not (math.isfinite(value) and 0 <= value <= 3600):
            raise ValueError(f"MELDCODE_WRITE_LOCK_TIMEOUT moet een getal (seconden) van 0 tot "
                             f"en met 3600 zijn, niet '{value:g}'")
        return value

    @field_validator("login_rate_limit", "login_name_rate_limit")
    @classmethod
    def _rate_limit(cls, value: str, info: ValidationInfo) -> str:
        # read by Flask-Limiter at the first sign-in, which then fails every sign-in ("x"),
        # or allows none ("0 per minute"): refused when the command starts instead
        import limits

        try:
            items = limits.parse_many(value)
        except ValueError:
            items = []
        if not items or any(item.amount < 1 for item in items):
            name = str(cls.model_fields[str(info.field_name)].validation_alias)
            raise ValueError(f"{name} moet een limiet zijn zoals '10 per minute' (minstens 1 "
                             f"per periode; meerdere met ';'), niet '{value}'")
        return value

    @field_validator("workers")
    @classmethod
    def _workers(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= 64:
            raise ValueError("MELDCODE_WORKERS moet tussen 1 en 64 liggen")
        return value

    def database(self) -> str:
        """The database URL: MELDCODE_DATABASE_URL, else SQLite in the instance folder."""
        return self.database_url or f"sqlite:///{self.instance / 'meldcode.sqlite'}"


def smtp_address(url: str) -> tuple[str, int] | None:
    """(host, port) of an `smtp://host:port` URL (port 25 when left out), or None when the
    text has another form or a port outside 1–65535 (CONTRACT section 5: MELDCODE_SMTP_URL)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url.strip())
        port = 25 if parts.port is None else parts.port  # above 65535: ValueError
    except ValueError:
        return None
    # port 0 is no port to connect to (it was read as "left out": 25, without a word)
    if parts.scheme != "smtp" or not parts.hostname or parts.path not in ("", "/") or port == 0:
        return None
    return parts.hostname, port


# Every field is made by _field, its validation_alias the variable's name (a str).
FIELDS = {str(field.validation_alias): name for name, field in Settings.model_fields.items()}
NAMES = tuple(FIELDS)


def current() -> Settings:
    """The settings as the environment holds them now. Raises ConfigError (Dutch, naming the
    variable) for a value that does not fit. Cheap: read anew only when one of the variables
    changed (tests change them between tests), otherwise the same object."""
    return _read(_snapshot())


# os.environ.get costs about 2 µs for a variable that is not set (a KeyError inside), and
# current() runs for every row written (the history key); CPython's os.environ keeps its
# encoded values in a plain dict, read here directly where it exists: 4 µs for all names.
_DATA = getattr(os.environ, "_data", None)
_ENCODED = tuple(os.environ.encodekey(name) for name in NAMES) if _DATA is not None else ()


def _snapshot() -> tuple:
    if _DATA is not None:
        return tuple(map(_DATA.get, _ENCODED))
    return tuple(map(os.environ.get, NAMES))


@functools.lru_cache(maxsize=64)
def _read(values: tuple) -> Settings:
    # `values` is only the key of the cache; pydantic-settings reads the variables itself.
    try:
        return Settings()
    except ValidationError as exc:
        given = {name: os.environ[name] for name in NAMES if name in os.environ}
        raise ConfigError(_explain(exc, given)) from None


def _explain(exc: ValidationError, given: dict[str, str]) -> str:
    problems = []
    for error in exc.errors():
        env = str(error["loc"][0]) if error["loc"] else "?"
        message = str(error.get("ctx", {}).get("error", "")) if error["type"] == "value_error" else ""
        if env not in message:
            field = Settings.model_fields.get(FIELDS.get(env, ""))
            extra = field.json_schema_extra if field is not None else None
            expected = extra["type"] if isinstance(extra, dict) else "?"
            message = f"{env} moet van het type '{expected}' zijn, niet '{given.get(env, '')[:20]}'"
        problems.append(message)
    return "; ".join(problems)
