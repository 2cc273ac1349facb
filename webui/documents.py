"""The product's documents in words: the case dossier (the JSON evidence file, its HTML and
tagged PDF) and the organisation's meldcode (a part of a page, a standalone page, a PDF).

The engine gives data (engine.dossier, engine.meldcode_doc: codes, values, ISO times); here
they become words from the Flask-Babel catalogues, in the locale in force (a page: the
session's language; the command line: Dutch, by force_locale). The diagram's own texts stay as
the process owner wrote them. The JSON evidence file is always Dutch, whoever downloads it.

Every function needs a Flask application context (the catalogues, the templates in
webui/templates/documents through the app's Jinja environment) and, outside a request, a
language set with flask_babel.force_locale (the command line: force_locale("nl")).
"""

from __future__ import annotations

import json
import mimetypes
import re
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from flask import current_app
from flask_babel import force_locale, format_date, format_datetime, format_decimal, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from engine import dossier, timezones

from .web import LANES, STATUS, answer, label

TEMPLATES = Path(__file__).parent / "templates" / "documents"

# --- what the codes read as -------------------------------------------------------------------

# The uitkomst of a case as the dossier states it, in a whole sentence (the lists show the
# short labels of web.UITKOMST). None: the case is still open.
OUTCOMES = {
    "gemeld": _l("Gemeld bij Veilig Thuis"),
    "hulp": _l("Hulp geboden of georganiseerd"),
    "gemeld_en_hulp": _l("Gemeld bij Veilig Thuis en hulp geboden"),
    "zorgen_weggenomen": _l("Zorgen weggenomen in het gesprek"),
    "geen_vermoeden": _l("Geen vermoeden van huiselijk geweld of kindermishandeling"),
    None: _l("Nog open"),
}
# The history's actions as the dossier names them (the wording of the JSON evidence file,
# which does not change; the auditor's pages use web.ACTIONS).
HISTORY_ACTIONS = {
    "case_started": _l("Casus gestart"),
    "task_completed": _l("Stap afgerond"),
    "decision_made": _l("Besluit door de beslistabel"),
    "case_closed": _l("Casus afgesloten"),
    "case_handed_over": _l("Casus overgedragen"),
    "case_shared": _l("Casus gedeeld"),
    "case_linked": _l("Casus gekoppeld"),
    "case_stalled": _l("Casus staat vast: geen taak open"),
    "case_migrated": _l("Casus verplaatst naar een andere procesversie"),
    "informed": _l("Leidinggevende en aandachtsfunctionaris ingelicht over de melding"),
    "timer_fired": _l("Wachttijd verstreken: het proces gaat verder"),
}
# The afwegingskader's questions and decisions by variable (their order: engine.dossier).
AFWEGINGSKADER = {
    "vermoeden": _l("1. Is er een vermoeden van (dreiging van) huiselijk geweld of "
                    "kindermishandeling?"),
    "acute_onveiligheid": _l("2a. Is er sprake van acute onveiligheid?"),
    "structurele_onveiligheid": _l("2b. Is er sprake van structurele onveiligheid?"),
    "hulp_mogelijk": _l("3. Kan de professional effectieve hulp bieden of organiseren?"),
    "hulp_aanvaard": _l("4. Aanvaarden de betrokkenen de hulp en werken zij mee?"),
    "besluit_melden": _l("Besluit: melden bij Veilig Thuis"),
    "besluit_hulp": _l("Besluit: hulp bieden of organiseren"),
    "hulp_effectief": _l("5. Leidt de hulp tot duurzame veiligheid?"),
}
# The footer's page number; %(page)s and %(pages)s become CSS counters (css_content).
PAGE_NUMBER = _l("Pagina %(page)s van %(pages)s")
# Who does a step (a lane's role code), as the meldcode document says it in a sentence.
WHO = {
    "medewerker": _l("de medewerker (beroepskracht)"),
    "leidinggevende": _l("de leidinggevende"),
    "aandachtsfunctionaris": _l("de aandachtsfunctionaris"),
}
# The forms of violence the organisation's meldcode defines (engine.meldcode_doc.VIOLENCE_FORMS,
# the options of `geweldsvormen` and ouderenmishandeling): the name and a short explanation.
VIOLENCE_FORMS = {
    "lichamelijk": (_l("Lichamelijk geweld"), _l(
        "Iemand pijn doen of verwonden: slaan, schoppen, knijpen, vastbinden, of bewust te "
        "veel of te weinig medicijnen geven.")),
    "psychisch": (_l("Psychisch geweld"), _l(
        "Iemand kleineren, bedreigen, vernederen, isoleren of voortdurend controleren, "
        "bijvoorbeeld door bezoek of post tegen te houden.")),
    "seksueel": (_l("Seksueel geweld"), _l(
        "Iemand dwingen tot seksuele handelingen, die te ondergaan of ernaar te kijken; ook "
        "ongewenst aanraken en verkrachting.")),
    "verwaarlozing": (_l("Verwaarlozing"), _l(
        "Iemand de zorg of aandacht onthouden die hij of zij nodig heeft: te weinig eten of "
        "drinken, slechte hygiëne, geen medische zorg, of een kind dat emotioneel aan zijn lot "
        "wordt overgelaten.")),
    "financieel": (_l("Financiële uitbuiting"), _l(
        "Iemands geld of bezit afnemen of zonder toestemming gebruiken: geld opnemen, spullen "
        "verkopen, iemand onder druk zetten om een testament te wijzigen.")),
    "schending_rechten": (_l("Schending van rechten"), _l(
        "Iemand de vrijheid, de privacy of het recht op eigen keuzes afnemen, bijvoorbeeld door "
        "op te sluiten of over iemands leven te beslissen zonder hem of haar.")),
    "getuige": (_l("Getuige van huiselijk geweld"), _l(
        "Een kind ziet of hoort geweld tussen ouders of andere huisgenoten, of merkt de "
        "gevolgen ervan. Dat is op zichzelf een vorm van kindermishandeling.")),
    "eergerelateerd": (_l("Eergerelateerd geweld"), _l(
        "Lichamelijk of geestelijk geweld om de eer van de familie te beschermen of te "
        "herstellen; vaak zijn meer familieleden betrokken en speelt het achter gesloten "
        "deuren.")),
    "huwelijksdwang": (_l("Huwelijksdwang"), _l(
        "Iemand onder druk zetten of dwingen om te trouwen, of om een huwelijk niet te "
        "beëindigen, in Nederland of in het buitenland.")),
    "achterlating": (_l("Achterlating"), _l(
        "Iemand, vaak een jongere of een vrouw, tegen de eigen wil in het buitenland "
        "achterlaten, vaak zonder paspoort, zodat terugkeren niet of moeilijk lukt.")),
    "vgv": (_l("Vrouwelijke genitale verminking"), _l(
        "Het zonder medische reden wegnemen of beschadigen van (een deel van) de uitwendige "
        "geslachtsdelen van een meisje of vrouw, of de dreiging daarmee. Het is strafbaar en "
        "bij een meisje een vorm van kindermishandeling.")),
    "ouderenmishandeling": (_l("Ouderenmishandeling"), _l(
        "Elk van deze vormen van geweld tegen een oudere, door iemand van wie de oudere "
        "afhankelijk is of met wie hij of zij een persoonlijke of zorgrelatie heeft. In stap 1 "
        "legt u vast dat het slachtoffer een oudere is.")),
}


def violence_form(form: dict[str, str]) -> tuple[str, str]:
    """A form of violence of engine.meldcode_doc ({code, label}) as (name, explanation) in
    the locale in force; a form only the diagram knows: its label from the diagram and no
    explanation."""
    if form["code"] in VIOLENCE_FORMS:
        name, explanation = VIOLENCE_FORMS[form["code"]]
        return str(name), str(explanation)
    return form.get("label") or form["code"], ""


def local_time(at: datetime | str | None, seconds: bool = False) -> str:
    """A time (a datetime, naive meaning UTC, or ISO 8601 text) in Dutch time (Europe/
    Amsterdam) in the locale's words: "29 november 2026, 14:05", with seconds where the order
    of events matters; "—" for none."""
    if at is None or at == "":
        return "—"
    moment = timezones.parse_iso(at) if isinstance(at, str) else timezones.to_utc(at)
    return format_datetime(moment, "d MMMM yyyy, HH:mm:ss" if seconds else "d MMMM yyyy, HH:mm")


def display(entry: dict[str, Any]) -> str:
    """A recorded value ({value, and from the diagram: type, option_label}) as the dossier
    shows it: yes/no, a date in words, "—" for nothing (also no box ticked); everything else
    as the case page shows it (webui.web.answer: the option's label, each chosen option of a
    multi-choice field by its label; before, the dossier printed "['vgv']", issue 14)."""
    value = entry.get("value")
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("Ja") if value else _("Nee")
    if entry.get("type") == "date" and isinstance(value, str) and not entry.get("option_label"):
        try:
            return format_date(date.fromisoformat(value), "d MMMM yyyy")
        except ValueError:
            return value
    return answer(entry)


def _words(table: dict, code: Any) -> str:
    return str(table[code]) if code in table else str(code)


def outcome(code: str | None) -> str:
    """The uitkomst (a code, None while open) in words; an unknown code reads as still open."""
    return str(OUTCOMES.get(code or None) or OUTCOMES[None])


def css_content(text: Any, **counters: str) -> Markup:
    """A text of the catalogue as the value of a CSS `content` property: quoted CSS strings,
    with `%(name)s` replaced by the CSS given for it (counter(page)). Only the product's own
    texts and CSS go in here, never a text of a case."""

    def quoted(piece: str) -> str:
        return '"' + re.sub(r'["\\<>\n]', lambda m: f"\\{ord(m.group()):x} ", piece) + '"'

    parts = re.split(r"%\((\w+)\)s", str(text))
    out = [quoted(p) if i % 2 == 0 else counters[p] for i, p in enumerate(parts)
           if p or i % 2]
    return Markup(" ".join(out) or '""')  # noqa: S704 - escaped above, own texts only


def _render(name: str, **context: Any) -> str:
    helpers = {"lang": str(get_locale() or "nl"), "local_time": local_time, "display": display,
               "label": label, "css_content": css_content, "Markup": Markup, "STATUS": STATUS,
               "LANES": LANES, "PAGE_NUMBER": PAGE_NUMBER,
               "WHO": WHO, "outcome": outcome, "violence_form": violence_form,
               "action": lambda code: _words(HISTORY_ACTIONS, code),
               "question": lambda variable: _words(AFWEGINGSKADER, variable)}
    return current_app.jinja_env.get_template(f"documents/{name}").render(**helpers, **context)


# --- the dossier ------------------------------------------------------------------------------


def evidence(data: dict[str, Any]) -> dict[str, Any]:
    """The dossier's JSON evidence file from engine.dossier.export's data: the data with the
    Dutch words beside the codes (uitkomst_label, the afwegingskader's question, display,
    action_label), always in Dutch, keys and values as they have always been."""
    with force_locale("nl"):
        case = {}
        for key, value in data["case"].items():
            case[key] = value
            if key == "uitkomst":
                case["uitkomst_label"] = outcome(value)
        out = {
            "case": case,
            "steps": [{**{k: v for k, v in s.items() if k != "fields"},
                       "fields": [{"name": f["name"], "label": f["label"], "value": f["value"],
                                   "display": display(f)} for f in s["fields"]]}
                      for s in data["steps"]],
            "afwegingskader": [{"question": _words(AFWEGINGSKADER, r["variable"]),
                                "variable": r["variable"], "value": r["value"],
                                "display": display({"value": r["value"]})}
                               for r in data["afwegingskader"]],
            "veilig_thuis": [{"variable": r["variable"], "label": r["label"], "value": r["value"],
                              "display": display(r)} for r in data["veilig_thuis"]],
            "history": [{"seq": e["seq"], "at": e["at"], "actor": e["actor"],
                         "action": e["action"],
                         "action_label": _words(HISTORY_ACTIONS, e["action"]),
                         "step": e["step"], "step_name": e["step_name"], "data": e["data"],
                         "hash": e["hash"]} for e in data["history"]],
        }
        rest = {k: v for k, v in data.items() if k not in out}
        return {**out, **rest}


# What the product takes for a case's client_ref and reason (engine/cases.py). A longer value
# in the database (damaged or hostile) is shown shortened: WeasyPrint took more than 11 minutes
# to lay out a client_ref of a million characters, set whole in every page's running head.
SHOWN_WHOLE = {"client_ref": 200, "reason": 2000}


def shortened(text: Any, limit: int) -> str:
    """`text` as a document shows it: whole up to `limit` characters, else its first `limit`
    characters and a marker that says it is shortened and how long it is (in the locale in
    force). Raises nothing."""
    text = str(text or "")
    if len(text) <= limit:
        return text
    return text[:limit] + "… " + _("(ingekort: %(count)s tekens)", count=format_decimal(len(text)))


def dossier_html(data: dict[str, Any]) -> str:
    """The dossier (engine.dossier.export's data) as the HTML document that becomes its PDF,
    in the locale in force; a client_ref or reason longer than the product takes shortened
    (SHOWN_WHOLE), so the PDF is made in seconds whatever the database holds."""
    case = {**data["case"], **{k: shortened(data["case"].get(k), n) for k, n in SHOWN_WHOLE.items()}}
    return _render("dossier.html", d={**data, "case": case})


def dossier_pdf(data: dict[str, Any]) -> bytes:
    """The dossier as a tagged PDF (PDF/UA-1), in the locale in force."""
    return html_to_pdf(dossier_html(data))


def export(who, case_id: Any, fmt: str, on_behalf_of: str | None = None,
           deliver: Callable[[bytes], None] | None = None) -> tuple[bytes, dict]:
    """The dossier of a case as PDF (in the locale in force) or JSON (the Dutch evidence
    file) bytes, with the JSON's dict; for `who` as engine.dossier.export takes it, which
    raises NotFound or Forbidden, and logs the export (NEN 7513) only once the bytes are made
    and `deliver` (given them: the command line writes its file) has returned, so a failed
    or interrupted export is not logged as made. ValueError for another format."""
    if fmt not in ("pdf", "json"):
        raise ValueError("formaat moet pdf of json zijn")
    made: list[tuple[bytes, dict]] = []

    def render(data: dict[str, Any]) -> None:
        written = evidence(data)
        content = (json.dumps(written, ensure_ascii=False, indent=2).encode() if fmt == "json"
                   else dossier_pdf(data))
        made.append((content, written))
        if deliver is not None:
            deliver(content)

    dossier.export(who, case_id, on_behalf_of=on_behalf_of, deliver=render)
    return made[0]


# --- the organisation's meldcode --------------------------------------------------------------


def meldcode_body(doc: dict[str, Any]) -> Markup:
    """The meldcode document's content (engine.meldcode_doc.build's data) without its own page
    frame, to show inside the site; every value escaped by the autoescaping template."""
    return Markup(_render("meldcode_body.html", doc=doc))  # noqa: S704 - autoescaped template


def meldcode_html(doc: dict[str, Any]) -> str:
    """The meldcode document as a standalone HTML page (for printing and for its PDF)."""
    return _render("meldcode.html", doc=doc)


def meldcode_pdf(doc: dict[str, Any]) -> bytes:
    """The meldcode document as a tagged PDF, fetching only the product's own files."""
    return html_to_pdf(meldcode_html(doc))


# --- HTML to PDF --------------------------------------------------------------------------------


def product_files():
    """WeasyPrint's url_fetcher for the product's documents: data: URLs and the product's own
    files under webui/templates/documents; every other URL (http:, https:, ftp:, file:
    elsewhere, a path that leaves the folder through .. or a link) is refused with a
    ValueError, so no text in a document can make the server fetch a URL or embed a local
    file. A refused URL is left out of the PDF (WeasyPrint logs a warning and goes on)."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class ProductFiles(URLFetcher):
        def fetch(self, url, headers=None):
            scheme = url.partition(":")[0].lower()
            if scheme == "data":
                return super().fetch(url, headers)  # decoded in memory, no I/O
            if scheme == "file":
                path = Path(url2pathname(urlsplit(url).path)).resolve()
                if path.is_relative_to(TEMPLATES.resolve()) and path.is_file():
                    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                    return URLFetcherResponse(path.as_uri(), body=path.read_bytes(),
                                              headers={"Content-Type": kind})
            raise ValueError(f"geweigerd: {url[:80]} is geen bestand van het product")

    return ProductFiles()


def html_to_pdf(html: str) -> bytes:
    """A tagged, accessible PDF (PDF/UA-1: structure tree, language, title) of an HTML
    document of this product, rendered with WeasyPrint through product_files: relative URLs
    name files under webui/templates/documents, data: URLs are allowed, nothing else is
    fetched."""
    from weasyprint import HTML  # heavy import, only when a PDF is asked for

    return HTML(string=html, base_url=TEMPLATES.as_uri() + "/",
                url_fetcher=product_files()).write_pdf(pdf_variant="pdf/ua-1")
