"""Deployed process versions: deploy a checked file set, list, activate."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import audit, definitions
from .definitions import InvalidDefinition, SourceFile
from .store import ProcessFile, ProcessVersion


def version_view(row: ProcessVersion) -> dict[str, Any]:
    return {
        "version": row.version,
        "sha256": row.sha256,
        "deployed_at": audit.iso(row.deployed_at),
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


def deploy(session: Session, files: list[SourceFile], by: str) -> tuple[ProcessVersion, bool]:
    """Check and store a file set; (version, True) when new, (existing, False) when identical."""
    files = complete_set(session, files)
    digest = definitions.set_sha256(files)
    existing = session.scalar(select(ProcessVersion).where(ProcessVersion.sha256 == digest))
    if existing is not None:
        return existing, False
    definition, problems = definitions.check(files)
    if definition is None:
        raise InvalidDefinition(problems)
    number = (session.scalar(select(func.max(ProcessVersion.version))) or 0) + 1
    for row in session.scalars(select(ProcessVersion).where(ProcessVersion.active.is_(True))):
        row.active = False
    row = ProcessVersion(version=number, sha256=digest, deployed_by=by, active=True)
    row.files = [
        ProcessFile(name=f.name, kind=f.kind, sha256=f.sha256, content=f.content) for f in files
    ]
    session.add(row)
    session.flush()
    return row, True


def list_versions(session: Session) -> list[ProcessVersion]:
    return list(session.scalars(select(ProcessVersion).order_by(ProcessVersion.version)))


def activate(session: Session, version: int) -> ProcessVersion:
    row = session.get(ProcessVersion, version)
    if row is None:
        raise definitions.InvalidDefinition(
            [definitions.Problem("-", 1, f"versie {version} bestaat niet")]
        )
    for other in session.scalars(select(ProcessVersion).where(ProcessVersion.active.is_(True))):
        other.active = False
    row.active = True
    return row


def ensure_deployed(session: Session, by: str = "meldcode init") -> ProcessVersion | None:
    """Deploy the shipped processes when none is deployed yet."""
    if session.scalar(select(func.count()).select_from(ProcessVersion)):
        return None
    row, _ = deploy(session, definitions.shipped_files(), by)
    return row
