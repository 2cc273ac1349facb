"""Tamper evidence for what is no case: the users and the deployed process files (issue 11);
the organisation's settings have theirs in engine/settings_seal.py.

A database writer who gives themselves the auditor's role, a password they know or another
leidinggevende, or who changes a label in a stored BPMN file (which changes what every dossier
of that version says), leaves no event and no access-log line. So:

- every users row carries a keyed seal (`users.seal`): HMAC-SHA-256 with the history key over
  the row's fields (USER_FIELDS), in the manner of audit.header_hash. Every write of a users
  row through the ORM is sealed at flush by the mapper events below; a statement that writes
  users rows directly calls `seal` (engine/sessions.py, migration 0014, test setup). A row that
  did not match its seal before a change keeps its broken seal: a change never launders a
  tampering. `user_intact` is what sign-in and every request's session or token check ask.
- every process version's files must hash (SHA-256 of their content) to their own sha256
  column, the set (definitions.set_sha256) to process_versions.sha256, and that to the version's
  `process_deployed` line in the admin log, whose keyed hash no database writer can forge
  (engine/versions.py deploy; migration 0014 records `process_recorded` for a version deployed
  before the admin log existed).

`problems` gives every mismatch in Dutch for `meldcode verify --all`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, bindparam, event, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from . import admin_chain, audit, notification_seals, settings
from .definitions import SourceFile, set_sha256
from .errors import Conflict
from .messages import N_, Message
from .models import ProcessFile, ProcessVersion, User
from .stored_rows import damage_fields, damage_of, value_damage
from .stored_text import damaged

log = logging.getLogger("meldcode.seals")

# --- the seal of a users row -------------------------------------------------------------------

# Every column that says who someone is and what they may do. A new column that matters for
# access belongs here too, with a migration that reseals every row.
USER_FIELDS = (
    "name",
    "display_name",
    "password_hash",
    "roles",
    "manager_id",
    "active",
    "session_version",
    "email",
    "beroepsgroep",
    "created_at",
)
_users = User.__table__
USER_COLUMNS = tuple(_users.c[name] for name in USER_FIELDS)
_ROW = select(_users.c.id, *USER_COLUMNS, _users.c.seal).where(_users.c.id == bindparam("id"))
_ALL = select(_users.c.id, *USER_COLUMNS, _users.c.seal).order_by(_users.c.id)
_STORE = _users.update().where(_users.c.id == bindparam("uid")).values(seal=bindparam("value"))


# verify's line for a row that does not match its seal: names every USER_FIELDS field (issue 11)
USER_CHANGED = N_(
    "gebruiker {name} (id {id}): de gegevens (naam, weergavenaam, wachtwoord, rollen, "
    "leidinggevende, actief, sessieversie, e-mailadres, beroepsgroep of aanmaaktijd) zijn "
    "buiten het product gewijzigd of de gebruiker is buiten het product toegevoegd: ze passen "
    "niet bij het zegel"
)


def user_seal(row: Any) -> str:
    """HMAC-SHA-256 (history key) over the canonical USER_FIELDS and id of `row` (a Row with
    those columns), hex: what users.seal must hold."""
    content = {name: getattr(row, name) for name in USER_FIELDS}
    if any(value_damage(value) is not None for value in content.values()):
        # a value read as damaged (engine/stored_text.py) is never what was sealed: the text
        # as read, or a flag read as no, could otherwise match by chance
        raise ValueError("a stored value read as damaged")
    content["id"] = row.id
    content["active"] = bool(content["active"])
    content["session_version"] = content["session_version"] or 0
    if content["created_at"] is not None:
        content["created_at"] = audit.iso(content["created_at"])
    return hmac.new(settings.history_key(), b"user\n" + audit.canonical(content), hashlib.sha256).hexdigest()


def user_intact(row: Any, why: str = "") -> bool:
    """Whether `row` (with id, USER_FIELDS and seal) matches its seal. A mismatch is logged
    (`why`: where it was seen, e.g. "sign-in"), with the user's name, never the row."""
    try:
        ok = hmac.compare_digest(user_seal(row), row.seal or "")
    except (TypeError, ValueError, AttributeError):  # a value no product writes
        ok = False
    if not ok and why:
        log.warning(
            "users row does not match its seal: changed outside the product",
            extra={"user": str(row.name)[:80], "user_id": row.id, "seen_at": why},
        )
    return ok


def _conn(db: Session | Connection) -> Connection:
    return db.connection() if isinstance(db, Session) else db


def seal(db: Session | Connection, user_id: int | None = None) -> None:
    """Write the seal of user `user_id` (None: every user) from the row as this transaction
    sees it. For a writer that changed users rows with a statement of its own, after it
    checked (user_intact) that the row was intact before: this seals whatever is there."""
    if isinstance(db, Session):
        db.flush()
    conn = _conn(db)
    rows = conn.execute(_ALL if user_id is None else _ROW, {"id": user_id}).all()
    if rows:
        conn.execute(_STORE, [{"uid": r.id, "value": user_seal(r)} for r in rows])


def read_user(db: Session | Connection, user_id: int, lock: bool = False) -> Any:
    """The users row `user_id` with USER_FIELDS and seal, or None; lock: locked on PostgreSQL,
    for a writer that reseals it after its change."""
    conn = _conn(db)
    query = _ROW.with_for_update() if lock and conn.dialect.name == "postgresql" else _ROW
    return conn.execute(query, {"id": user_id}).first()


@event.listens_for(User, "before_update")
def _before_update(_mapper, conn: Connection, target: User) -> None:
    row = read_user(conn, target.id, lock=True)
    # A row that was not intact before this change stays unsealed (never laundered).
    _state(target)["seal_intact"] = row is not None and user_intact(row, "change")


@event.listens_for(User, "after_insert")
@event.listens_for(User, "after_update")
def _after_write(_mapper, conn: Connection, target: User) -> None:
    if not _state(target).pop("seal_intact", True):
        return
    row = conn.execute(_ROW, {"id": target.id}).first()
    if row is not None:
        value = user_seal(row)
        conn.execute(_STORE, {"uid": row.id, "value": value})
        set_committed_value(target, "seal", value)


def _state(target: User) -> dict[str, Any]:
    from sqlalchemy import inspect

    return inspect(target).info


def user_problems(conn: Connection) -> list[str]:
    """Every users row that holds a value stored damaged (naming each column and what is
    wrong: bytes that are no UTF-8, a time that is none, text in a number or flag; issue 11),
    or else does not match its seal, and every user the admin log says was added whose row is
    gone (the product never deletes a user: it switches them off), in Dutch (who, and what was
    done outside the product). Raises only what the database raises."""
    found: list[str] = []
    names = set()
    from .user_trust import BYTES_FOUND, USER_TEXTS, stored_as_bytes  # it builds on this module

    blobs = stored_as_bytes(conn, _users, USER_TEXTS)
    for row in conn.execute(_ALL):
        names.add(row.name)
        damage = damage_of(row)
        if not damage and row.id in blobs:  # reads as the text and matches its seal
            found.append(Message(BYTES_FOUND, name=str(row.name)[:80], id=row.id,
                                 fields=damage_fields(blobs[row.id])))
        elif damage:
            found.append(Message(N_("gebruiker {name} (id {id}) is beschadigd opgeslagen ({fields}): "
                                    "buiten het product gewijzigd; deze gebruiker kan zich niet "
                                    "aanmelden"), name=str(row.name)[:80], id=row.id,
                                 fields=damage_fields(damage)))
        elif not user_intact(row):
            found.append(
                Message(
                    USER_CHANGED,
                    name=str(row.name)[:80],
                    id=row.id,
                )
            )
    # a row whose name is damaged may be the one a line names: no row is called gone then
    gone = not any(damaged(name) for name in names)
    for detail in genuine_details(conn, ("user_added",)):
        if gone and isinstance(detail.get("user"), str) and detail["user"] not in names:
            found.append(Message(N_("gebruiker {name}: het beheerlog legde de toevoeging vast, "
                                    "maar de rij ontbreekt (buiten het product verwijderd)"),
                                 name=detail["user"][:80]))
    return found


# --- the files of a process version ---------------------------------------------------------

DEPLOYED = ("process_deployed", "process_recorded")  # the admin-log lines that name a set


def genuine_details(conn: Connection, actions: tuple[str, ...], after: int = 0,
                    floor: int = 0) -> Iterator[dict[str, Any]]:
    """The detail of each admin-log line of `actions` (with an id above `after` and a position
    above `floor`) in the order of the log's positions, only of lines whose keyed hash holds,
    each once: a forged, damaged, copied or moved line counts as the line it copies or not at
    all (engine/admin_chain.py genuine; log_verify names them)."""
    for line in admin_chain.genuine(conn, actions, after, floor):
        yield line.detail if isinstance(line.detail, dict) else {}


def deployed_sets(conn: Connection) -> dict[int, dict[str, Any]]:
    """Per version, the detail ({"version", "sha256", "files"}) of its deploy's admin-log line,
    only lines whose keyed hash holds (a forged one is log_verify's finding)."""
    found: dict[int, dict[str, Any]] = {}
    for detail in genuine_details(conn, DEPLOYED):
        if isinstance(detail.get("version"), int):
            found.setdefault(detail["version"], detail)
    return found


def _deployed_line(conn: Connection, version: int) -> dict[str, Any] | None:
    return deployed_sets(conn).get(version)


TAMPERED_FILES = N_(
    "Procesversie {version} is buiten het product gewijzigd: de opgeslagen "
    "bestanden passen niet bij de SHA-256 van de versie. Deze versie wordt niet "
    "geladen."
)

UNDEPLOYED = N_(
    "Procesversie {version} is buiten het product toegevoegd: het beheerlog heeft geen "
    "regel van haar publicatie. Deze versie wordt niet geladen."
)


def check_files(conn: Connection, version: int, sha256: str, files: list[SourceFile]) -> None:
    """Before a stored version's files are parsed (versions.definition_for): their set hash
    must be the version's sha256 and the sha256 of the version's genuine deploy line in the
    admin log (process_deployed or process_recorded), which must exist: a version inserted by
    hand with agreeing unkeyed hashes has none (issue 11 F3). Raises Conflict (409, Dutch)
    otherwise: tampered text never runs."""
    try:
        digest = set_sha256(files)
    except (TypeError, AttributeError):  # content that is no bytes (SQLite TEXT): changed
        digest = ""
    line = _deployed_line(conn, version) if digest == sha256 else None
    if digest == sha256 and line is None:
        log.warning("process version has no deploy line in the admin log", extra={"version": version})
        raise Conflict(Message(UNDEPLOYED, version=version))
    if digest != sha256 or line is None or line.get("sha256") != digest:
        log.warning("process version files do not match their hash", extra={"version": version})
        raise Conflict(Message(TAMPERED_FILES, version=version))


_VERSIONS = select(ProcessVersion.version, ProcessVersion.sha256).order_by(ProcessVersion.version)
_files = ProcessFile.__table__
_FILES = (
    select(_files.c.name, _files.c.sha256, _files.c.content)
    .where(_files.c.version == bindparam("version"))
    .order_by(_files.c.name)
)


def version_problems(conn: Connection) -> list[str]:
    """Per process version, in Dutch: a file whose content does not hash to its sha256
    column; a file set that does not hash to the version's sha256 (a file changed, added or
    removed); a version without a genuine deploy line in the admin log, or whose sha256 or
    file names differ from it; process_versions.active other than the admin log says
    (restore_rows.active_problem, the rule restore holds a backup to)."""
    lines = deployed_sets(conn)
    found: list[str] = []
    for version, sha256 in conn.execute(_VERSIONS).all():
        files = conn.execute(_FILES, {"version": version}).all()
        # Content that is no bytes (SQLite makes a replace() result TEXT) is a changed file,
        # never a TypeError (issue 11 F6); the set hash then cannot match either.
        stored = [(f.name, f.sha256, f.content if isinstance(f.content, bytes) else None) for f in files]
        for name, column, content in stored:
            if content is None or hashlib.sha256(content).hexdigest() != column:
                found.append(
                    Message(
                        N_(
                            "procesversie {version}: de inhoud van {file} is buiten "
                            "het product gewijzigd (past niet bij de SHA-256 van "
                            "het bestand)"
                        ),
                        version=version,
                        file=name,
                    )
                )
        digest = set_sha256([SourceFile(name, content or b"") for name, _, content in stored])
        if digest != sha256:
            found.append(
                Message(
                    N_(
                        "procesversie {version}: de bestanden passen niet bij de "
                        "SHA-256 van de versie (een bestand gewijzigd, toegevoegd "
                        "of verwijderd buiten het product)"
                    ),
                    version=version,
                )
            )
        line = lines.get(version)
        if line is None:
            found.append(
                Message(
                    N_("procesversie {version}: het beheerlog heeft geen regel van haar publicatie"),
                    version=version,
                )
            )
        elif line.get("sha256") != sha256 or line.get("sha256") != digest:
            found.append(
                Message(
                    N_("procesversie {version}: de SHA-256 wijkt af van de publicatie in het beheerlog"),
                    version=version,
                )
            )
        elif sorted(line.get("files") or []) != sorted(name for name, _, _ in stored):
            found.append(
                Message(
                    N_(
                        "procesversie {version}: de bestandsnamen wijken af van de "
                        "publicatie in het beheerlog"
                    ),
                    version=version,
                )
            )
    from .restore_rows import active_problem  # restore's own rule, the one piece of code for it

    active = active_problem(conn)
    if active is not None:  # process_versions.active flipped in the database (no admin-log line)
        found.append(Message(N_("process_versions.active: {problem} (buiten het product gewijzigd)"),
                             problem=active))
    return found


def record_versions(conn: Connection, by: str) -> None:
    """Give every version without a genuine deploy line in the admin log one
    (`process_recorded`, the set as stored now): versions deployed before the admin log
    existed (migration 0014; a test's version stored as an earlier release did)."""
    lines = deployed_sets(conn)
    for version, sha256 in conn.execute(_VERSIONS).all():
        if version not in lines:
            names = [f.name for f in conn.execute(_FILES, {"version": version})]
            audit.log_admin(
                conn, by, "process_recorded", {"version": version, "sha256": sha256, "files": names}
            )


def problems(conn: Connection) -> list[str]:
    """What `meldcode verify --all` reports beside the cases: users rows that do not match
    their seal, API tokens that do not match theirs (engine/tokens.py), process files that do
    not match their hashes and the admin log, and the organisation's settings that do not
    match the admin log (engine/settings_seal.py), mail held because its user's row is not
    to be trusted (engine/mail_addresses.py), outbox rows that do not match their seal
    (engine/outbox_seals.py), and notifications that do not match their seal
    (engine/notification_seals.py). problem_parts gives the same, by part."""
    return [problem for _part, found in problem_parts(conn) for problem in found]


# The parts of `problems`, each named apart by verify (issue 11: a heading that named users and
# process versions stood also above findings about tokens, settings or held mail).
PART_USERS = N_("gebruikers")
PART_TOKENS = N_("API-tokens")
PART_VERSIONS = N_("procesversies")
PART_SETTINGS = N_("instellingen")
PART_MAIL = N_("e-mail")
PART_NOTIFICATIONS = N_("berichten")


def problem_parts(conn: Connection) -> list[tuple[Message, list[str]]]:
    """`problems` by part, in this order: (PART_USERS, user_problems), (PART_TOKENS, the API
    tokens'), (PART_VERSIONS, the process files'), (PART_SETTINGS, the settings'), (PART_MAIL,
    the outbox rows' seals and the held mail's), (PART_NOTIFICATIONS, the notifications');
    each list in Dutch, possibly empty. Raises only what the database raises."""
    # each imports this module (the users seal, genuine_details)
    from . import outbox_seals, settings_seal, tokens

    return [
        (PART_USERS, user_problems(conn)),
        (PART_TOKENS, tokens.token_problems(conn)),
        (PART_VERSIONS, version_problems(conn)),
        (PART_SETTINGS, settings_seal.problems(conn)),
        (PART_MAIL, outbox_seals.mail_problems(conn)),
        (PART_NOTIFICATIONS, notification_seals.problems(conn)),
    ]
