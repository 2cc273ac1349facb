"""Deployed process versions: deploy a checked file set, list, activate.

One rule for a file set identical (SHA-256) to a deployed one, whatever the door (the API, the
modeler's Publiceren, `meldcode deploy`): it is that existing version, and deploying it makes
it the active one, as a new version would be."""

from __future__ import annotations

import contextlib
from typing import Any

from sqlalchemy import Connection, func, select, text
from sqlalchemy.orm import Session

from . import audit, config_seals, definitions, timezones
from .definitions import InvalidDefinition, ProcessDefinition, SourceFile
from .errors import NotFound
from .messages import N_, Message
from .models import ProcessFile, ProcessVersion
from .store import unit_of_work


def version_view(row: ProcessVersion, stamp: timezones.Stamp = audit.iso) -> dict[str, Any]:
    """A version as the API and the pages show it: deployed_at as `stamp` gives it (ISO 8601
    UTC text by default, an aware UTC datetime with timezones.to_utc for a page)."""
    return {
        "version": row.version,
        "sha256": row.sha256,
        "deployed_at": stamp(row.deployed_at),
        "deployed_by": row.deployed_by,
        "active": row.active,
        "files": [f.name for f in row.files],
    }


def complete_set(session: Session, files: list[SourceFile]) -> list[SourceFile]:
    """A BPMN-only deploy takes the DMN files of the active version."""
    if any(f.kind == "dmn" for f in files):
        return files
    active = session.scalar(select(ProcessVersion).where(ProcessVersion.active.is_(True)))
    if active is None:
        return files
    names = {f.name for f in files}
    return files + [
        SourceFile(f.name, f.content) for f in active.files if f.kind == "dmn" and f.name not in names
    ]


def check_first(files: list[SourceFile]) -> None:
    """Check and prove a file set before a deploy opens its write transaction: the proof takes
    seconds, and writers (completions of every case) must not queue behind it. The verdict is
    kept by definitions.check, so the deploy's own check of the same set is instant. Raises
    nothing: the deploy reports the problems."""
    from .store import unit_of_work

    with unit_of_work() as session:
        full = complete_set(session, files)
    definitions.check(full)


# Deploys number their version max + 1. On PostgreSQL two at once would read the same max and
# the second would break the primary key, and two activations at once left two versions
# active; this lock (held to the end of the transaction) makes deploys and activations take
# turns. SQLite has one writer at a time anyway.
_DEPLOY_LOCK = text("SELECT pg_advisory_xact_lock(20766, 1)")


def deploy(session: Session, files: list[SourceFile], by: str) -> tuple[ProcessVersion, bool]:
    """Check and store a file set; (version, True) when new, (existing, False) when identical.
    Either way the version is the active one afterwards. Raises InvalidDefinition with the
    problems. Concurrent deploys take turns (the second sees the first's version, and returns
    it when its files are identical)."""
    row, created, _reactivated = _deploy(session, files, by)
    return row, created


def _take_turns(session: Session) -> None:
    """Hold the deploy lock until the transaction ends (PostgreSQL; SQLite's writers take
    turns anyway). Taken again within one transaction, it costs nothing."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_DEPLOY_LOCK)


def _deploy(session: Session, files: list[SourceFile], by: str) -> tuple[ProcessVersion, bool, bool]:
    """deploy, and whether an existing version was made active again."""
    _take_turns(session)
    files = complete_set(session, files)
    # One rule for every set, identical to a deployed version or not: it passes this release's
    # check (`meldcode check` exit 0), else nothing changes. A version stored by an earlier
    # release with laxer checks is not made active again by uploading its files.
    definition, problems = definitions.check(files)
    if definition is None:
        raise InvalidDefinition(problems)
    digest = definitions.set_sha256(files)
    existing = session.scalar(select(ProcessVersion).where(ProcessVersion.sha256 == digest))
    if existing is not None:
        # The same files as a deployed version: deploying them means new cases get it (again);
        # activate's rule says whether that changed anything (not when it already was active).
        return existing, False, activate(session, existing.version, by=by)
    number = (session.scalar(select(func.max(ProcessVersion.version))) or 0) + 1
    for row in session.scalars(select(ProcessVersion).where(ProcessVersion.active.is_(True))):
        row.active = False
    row = ProcessVersion(version=number, sha256=digest, deployed_by=by, active=True)
    row.files = [
        ProcessFile(name=f.name, kind=f.kind, sha256=f.sha256, content=f.content) for f in files
    ]
    session.add(row)
    session.flush()
    audit.log_admin(session, by, "process_deployed",
                    {"version": number, "sha256": digest, "files": [f.name for f in files]})
    return row, True, False


def deploy_files(files: list[SourceFile], by: str) -> dict[str, Any]:
    """The deploy command of every door, in one write transaction: check and prove the set
    first (outside it, see check_first), then store it as deploy does. Returns the version
    (version_view) with `created` (a new version) and `reactivated` (an existing version with
    these very files was made active again). Raises InvalidDefinition, nothing stored."""
    check_first(files)
    with unit_of_work(write=True) as session:
        row, created, reactivated = _deploy(session, files, by)
        session.flush()
        return {**version_view(row), "created": created, "reactivated": reactivated}


def list_versions(session: Session) -> list[ProcessVersion]:
    return list(session.scalars(select(ProcessVersion).order_by(ProcessVersion.version)))


def activate(session: Session, version: int, by: str | None = None) -> bool:
    """Make a deployed version the one new cases get; in the admin log (`process_activated`)
    as `by` (the caller names who, else "onbekend"). Returns whether anything changed: the
    version that is already active stays so and writes no line. One rule for every door that
    activates, a deploy of a version's very files included (issue 12 point 2: deploy, publish
    and activate, one function). Raises InvalidDefinition for an unknown version.
    Activations and deploys take turns (on PostgreSQL the deploy lock, on SQLite the write
    lock): two at once left two versions active, each having switched off only the version
    it had read as active."""
    _take_turns(session)
    # read after the lock: a row this session loaded earlier may show another's old state
    row = session.get(ProcessVersion, version, populate_existing=True)
    if row is None:
        raise definitions.InvalidDefinition(
            [definitions.Problem("-", 1, Message(N_("versie {number} bestaat niet"),
                                                 number=version))]
        )
    if row.active:
        return False
    for other in session.scalars(select(ProcessVersion).where(ProcessVersion.active.is_(True))):
        other.active = False
    row.active = True
    audit.log_admin(session, by or "onbekend", "process_activated", {"version": version})
    return True


def ensure_deployed(session: Session, by: str = "meldcode init") -> ProcessVersion | None:
    """Deploy the shipped processes when none is deployed yet."""
    if session.scalar(select(func.count()).select_from(ProcessVersion)):
        return None
    row, _ = deploy(session, definitions.shipped_files(), by)
    return row


# --- a readable difference between two versions ------------------------------------------------


def _documentation(node: Any) -> str:
    """The text of every bpmn:documentation of `node` (not of its children), joined."""
    from .problems import BPMN_NS

    return "\n".join(" ".join(d.itertext()).strip()
                     for d in node.findall(f"{{{BPMN_NS}}}documentation")).strip()


def _bpmn_model(files: list[SourceFile]) -> dict[str, dict]:
    """What a process owner changes, per id: elements (the process itself, its tasks, events,
    gateways, sub-processes, and any other element with an id that holds documentation, a
    lane say), flows with conditions, form fields; the documentation of each as
    `toelichting`."""
    from lxml import etree

    from .definition_xml import XML_PARSER_OPTIONS
    from .problems import BPMN_NS, NS

    model: dict[str, dict] = {"elements": {}, "flows": {}, "fields": {}}
    for f in files:
        if f.kind != "bpmn":
            continue
        root = etree.fromstring(f.content, etree.XMLParser(**XML_PARSER_OPTIONS))
        for node in root.iter():
            if not isinstance(node.tag, str) or etree.QName(node).namespace != BPMN_NS:
                continue
            local = etree.QName(node).localname
            node_id = node.get("id")
            if not node_id:
                continue
            docs = _documentation(node)
            if local == "sequenceFlow":
                cond = node.find(f"{{{BPMN_NS}}}conditionExpression")
                model["flows"][node_id] = {
                    "van": node.get("sourceRef"), "naar": node.get("targetRef"),
                    "naam": node.get("name") or "",
                    "voorwaarde": (cond.text or "").strip() if cond is not None else "",
                    "toelichting": docs,
                }
            elif (local.endswith(("Task", "Event", "Gateway"))
                  or local in ("task", "subProcess", "process") or docs):
                model["elements"][node_id] = {
                    "soort": local, "naam": node.get("name") or "", "toelichting": docs,
                }
                for field in node.xpath("camunda:formField | bpmn:extensionElements/"
                                        "camunda:formData/camunda:formField", namespaces=NS):
                    props = {p.get("id"): p.get("value") for p in
                             field.xpath("camunda:properties/camunda:property", namespaces=NS)}
                    rules = sorted(f"{c.get('name')}{'=' + c.get('config') if c.get('config') else ''}"
                                   for c in field.xpath("camunda:validation/camunda:constraint",
                                                        namespaces=NS))
                    options = [v.get("id") for v in field.xpath("camunda:value", namespaces=NS)]
                    model["fields"][f"{node_id}/{field.get('id')}"] = {
                        "label": field.get("label") or "", "type": field.get("type") or "",
                        "regels": ", ".join(rules), "keuzes": ", ".join(options),
                        "help": props.get("help") or "",
                        "voorwaarde": props.get("required_when") or "",
                        # whether the field is on a case's form at all (forms.shown_fields)
                        "shown_when": props.get("shown_when") or "",
                    }
    return model


# The kinds of a change (the groups of process_admin.DIFF_GROUPS) and what happened to it:
# codes, which the web layer puts into words (webui/processes).
_KIND = {"elements": "element", "flows": "stroom", "fields": "formulierveld"}
ADDED, REMOVED, CHANGED = "toegevoegd", "verwijderd", "gewijzigd"


def diff(old: list[SourceFile], new: list[SourceFile]) -> list[dict[str, Any]]:
    """Elements, flows, conditions, documentation and form fields added, removed or changed,
    and a changed decision table. Out: [{"soort": "element" | "stroom" | "formulierveld" |
    "beslistabel", "wijziging": ADDED | REMOVED | CHANGED, "id", "details": [{"attribute":
    the code of what changed ("naam", "soort", "van", "naar", "voorwaarde", "toelichting" (the
    documentation), "label", "type", "regels", "keuzes", "help", "shown_when"), "before", "after": its
    texts, None on the side where the item does not exist}]}]: codes and values, no words
    (issue 12 point 4). Raises what parsing the XML raises."""
    a, b = _bpmn_model(old), _bpmn_model(new)
    changes: list[dict[str, Any]] = []
    for part in ("elements", "flows", "fields"):
        for key in sorted(set(a[part]) | set(b[part])):
            before, after = a[part].get(key), b[part].get(key)
            if before == after:
                continue
            kind = ADDED if before is None else REMOVED if after is None else CHANGED
            details = [{"attribute": attr,
                        "before": None if before is None else before.get(attr) or "",
                        "after": None if after is None else after.get(attr) or ""}
                       for attr in {**(before or {}), **(after or {})}
                       if (before or {}).get(attr) != (after or {}).get(attr)]
            changes.append({"soort": _KIND[part], "wijziging": kind, "id": key,
                            "details": details})
    dmn_old = {f.sha256 for f in old if f.kind == "dmn"}
    dmn_new = {f.sha256 for f in new if f.kind == "dmn"}
    if dmn_old != dmn_new:
        changes.append({"soort": "beslistabel", "wijziging": CHANGED, "id": "DMN",
                        "details": []})
    return changes


def files_of(row: ProcessVersion) -> list[SourceFile]:
    return [SourceFile(f.name, f.content) for f in row.files]


def open_cases_per_version(session: Session) -> dict[int, int]:
    """The number of open cases per process version, for the versions page and its move: real
    cases only (practice cases are not moved, engine/migration.py)."""
    from .models import Case

    rows = session.execute(
        select(Case.process_version, func.count())
        .where(Case.status == "open", Case.practice.is_(False))  # engine/migration.REAL
        .group_by(Case.process_version)
    ).all()
    return {version: count for version, count in rows}


# --- the definition a case runs on ----------------------------------------------------------------

_definitions_by_version: dict[tuple[str, int], ProcessDefinition] = {}


def definition_for(db: Session | Connection, version: int) -> ProcessDefinition:
    """The parsed definition of stored version `version`, read through `db` (an ORM session or
    a plain connection). Stored versions never change, so each is parsed once per database
    (definitions.cached by its files' hash) and kept. Raises NotFound for a version that does
    not exist, Conflict (409) for files that do not hash to the version's SHA-256 and its
    deploy line in the admin log (config_seals.check_files, issue 11): tampered text never
    runs. The check is made once, when the version is first read."""
    engine = (db.get_bind() if isinstance(db, Session) else db).engine  # an Engine's is itself
    key = (str(engine.url), version)
    found = _definitions_by_version.get(key)
    if found is not None:
        return found
    with contextlib.nullcontext(db) if isinstance(db, Session) else Session(bind=db) as session:
        row = session.get(ProcessVersion, version)
        if row is None:
            raise NotFound(Message(N_("Procesversie {number} bestaat niet."), number=version))
        files = [SourceFile(f.name, f.content) for f in row.files]
        config_seals.check_files(session.connection(), version, row.sha256, files)
        found = definitions.cached(row.sha256, lambda: files)
    _definitions_by_version[key] = found
    return found


# The definition of a version that is not there: no files, steps or spec (is_gone).
GONE = ProcessDefinition(sha256="", files=[], spec=None, subprocess_specs={})


def readable_definition(db: Session | Connection, version: Any) -> ProcessDefinition:
    """For a door that only reads a case (its page, a task, the dossier, the step-through):
    definition_for, or GONE when `version` names no stored version (cases.process_version
    changed outside the product; stored_rows.version_damage names it). The case then opens
    from what is stored, without the diagram's names, with the damage named (issue 11: the
    history is still there); every write stays refused (write_refusals: 409). Raises
    what definition_for raises for a version that exists (Conflict: its files do not hold)."""
    if type(version) is not int:  # a number read as damaged, or stored_rows.GoneVersion
        return GONE
    try:
        return definition_for(db, version)
    except NotFound:
        return GONE


def is_gone(definition: ProcessDefinition) -> bool:
    """Whether `definition` is readable_definition's GONE (no diagram to show or replay)."""
    return definition is GONE


def active_version(session: Session) -> ProcessVersion | None:
    """The active process version (the one new cases start on), or None before any deploy."""
    return session.scalar(select(ProcessVersion).where(ProcessVersion.active.is_(True)))


def diagram_xml(version: Any) -> str:
    """The BPMN XML of a process version, for the diagram viewer. Holds no case data."""
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise NotFound(N_("Procesversie niet gevonden.")) from None
    with unit_of_work() as session:
        return definition_for(session, version).bpmn_xml
