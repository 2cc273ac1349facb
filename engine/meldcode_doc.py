"""The organisation's own meldcode as a document: generated from the active process version
and the organisation's settings, as a web page and as a PDF."""

from __future__ import annotations

from typing import Any

from . import organisation, versions
from .dossier import _env, local_time
from .errors import Conflict
from .messages import N_
from .store import unit_of_work

ROLE_LABELS = {
    "medewerker": "de medewerker (beroepskracht)",
    "leidinggevende": "de leidinggevende",
    "aandachtsfunctionaris": "de aandachtsfunctionaris",
}


def build() -> dict[str, Any]:
    with unit_of_work() as session:
        version = versions.active_version(session)
        if version is None:
            raise Conflict(N_("Er is geen actieve procesversie."))
        definition = versions.definition_for(session, version.version)
        settings = organisation.read(session)
        values = organisation.placeholder_values(settings)
        steps = [
            {"id": step.id, "name": step.name, "role": ROLE_LABELS.get(step.lane, step.lane),
             "documentation": organisation.fill_in(step.documentation, values),
             "records": [f.label for f in step.fields]}
            for step in definition.steps.values()
        ]
        return {
            "org": settings,
            "version": version.version,
            "deployed_at": local_time(version.deployed_at),
            "sha256": version.sha256,
            "steps": steps,
        }


def render_html(doc: dict[str, Any]) -> str:
    return _env.get_template("meldcode.html").render(doc=doc)


def render_pdf(doc: dict[str, Any]) -> bytes:
    """The document as a tagged PDF, fetching only the product's own files (dossier's rule)."""
    from .dossier import html_to_pdf

    return html_to_pdf(render_html(doc))


def render_body(doc: dict[str, Any]) -> str:
    """The document's content without its own page frame, to show inside the site."""
    return _env.get_template("meldcode_body.html").render(doc=doc)
