"""The organisation's own meldcode as data, made from the active process version and the
organisation's settings; webui/documents.py renders it as a web page and as a PDF."""

from __future__ import annotations

from typing import Any

from . import organisation, timezones, versions
from .errors import Conflict
from .messages import N_
from .store import unit_of_work


def build() -> dict[str, Any]:
    """The document's data: org (the organisation's settings, organisation.read), version
    (int), deployed_at (an aware datetime in UTC), sha256 and steps, each {id, name, lane (a
    role code), documentation (the diagram's text with the settings filled in), records (the
    labels of the step's fields, from the diagram)}.

    Raises Conflict when no process version is active."""
    with unit_of_work() as session:
        version = versions.active_version(session)
        if version is None:
            raise Conflict(N_("Er is geen actieve procesversie."))
        definition = versions.definition_for(session, version.version)
        settings = organisation.read(session)
        values = organisation.placeholder_values(settings)
        steps = [
            {"id": step.id, "name": step.name, "lane": step.lane,
             "documentation": organisation.fill_in(step.documentation, values),
             "records": [f.label for f in step.fields]}
            for step in definition.steps.values()
        ]
        return {
            "org": settings,
            "version": version.version,
            "deployed_at": timezones.to_utc(version.deployed_at),
            "sha256": version.sha256,
            "steps": steps,
        }
