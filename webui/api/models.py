"""The bodies of /api/v1 (CONTRACT sections 4 and 5) as pydantic models.

Each view hands the engine's dict to the model of its status (webui/api: `endpoint`), which
validates it strictly (no coercion, no unknown key) and serialises it: a body that does not fit
its model is a bug that the tests catch, not something a client finds out. The OpenAPI document
(openapi.py) takes its schemas from these same models, so it cannot drift from the answers.

A key that a body carries only sometimes (a field's `options`, a problem's `path`, an error's
`errors`) is `MISSING` when absent: left out of the answer, not written as null.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import MISSING, BaseModel, ConfigDict, StringConstraints, model_validator
from pydantic import Field as Attr
from pydantic.json_schema import WithJsonSchema

from engine.messages import N_, Message
from engine.problems import joined
from engine.stored_rows import value_damage
from engine.stored_text import DamagedCode, DamagedFlag, DamagedNumber
from engine.stored_time import damaged_time
from webui.texts import translate

# engine/timezones.iso: UTC to the microsecond with 'Z', the form of every time in the API.
ISO_UTC = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"
Timestamp = Annotated[str, StringConstraints(pattern=ISO_UTC),
                      WithJsonSchema({"type": "string", "format": "date-time",
                                      "pattern": ISO_UTC})]
Data = dict[str, Any]


def _described(schema: dict[str, Any], cls: type[Body]) -> None:
    """A model's description in the document: its DESCRIPTION (Dutch, for the reader of the
    API), never its docstring (English, for the reader of this code). A field null only when
    stored damaged (NULL_WHEN_DAMAGED) is null in the document only beside `damaged`."""
    schema.pop("description", None)
    if cls.DESCRIPTION:
        schema["description"] = cls.DESCRIPTION
    only = getattr(cls, "NULL_WHEN_DAMAGED", ())
    if only:
        schema["allOf"] = [{"anyOf": [{"required": ["damaged"]},
                                      {"properties": {name: {"not": {"type": "null"}}}}]}
                           for name in only]


class Body(BaseModel):
    """A JSON body: strict types (no "1" for 1), no key the model does not name."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True,
                              json_schema_extra=_described)
    DESCRIPTION: ClassVar[str] = ""


DAMAGED = ("alleen als iets van deze regel buiten de applicatie beschadigd is opgeslagen: wat, "
           "per veld (een tijdstip of getal daarvan is null, een tekst met U+FFFD waar bytes "
           "geen tekst zijn); meldcode verify --all meldt het ook")
ONLY_DAMAGED = "null alleen als het beschadigd is opgeslagen (damaged)"


class Stored(Body):
    """A body read from stored rows (a case, task, event, access-log line, notification): a
    value read as damaged (engine/stored_text.py, stored_time.py) is answered as such, in one
    way everywhere (as the admin log has it): a time null, a text or JSON as far as it reads,
    and `damaged` naming each such field and what is wrong, in the reader's language."""

    damaged: str | MISSING = Attr(MISSING, description=DAMAGED)
    # the fields that are null only when stored damaged (never otherwise)
    NULL_WHEN_DAMAGED: ClassVar[tuple[str, ...]] = ()

    # a code that is none of its values is null there too, without the document's rule
    NULL_CODES: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _marked(cls, value: Any) -> Any:
        if not isinstance(value, dict) or "damaged" in value:
            return value
        # columns the body does not show but the row holds damaged (stored_rows.unshown)
        hidden = value.get("stored_damage") or {}
        value = {name: v for name, v in value.items() if name != "stored_damage"}
        found = {name: value_damage(v) for name, v in value.items() if name in cls.model_fields}
        found = {name: kind for name, kind in found.items() if kind is not None} | hidden
        if not found:
            return value
        # a time or number that is none is null; a text or JSON as far as it reads
        value = {name: None if damaged_time(v) or isinstance(v, DamagedNumber) or (
            isinstance(v, DamagedCode | DamagedFlag) and name in cls.NULL_WHEN_DAMAGED + cls.NULL_CODES)
                                else v
                 for name, v in value.items()}
        value["damaged"] = translate(Message(N_("beschadigd opgeslagen: {fields}"), fields=joined(
            [Message(N_("{field}: {reason}"), field=name, reason=why)
             for name, why in found.items()], "; ")))
        return value


# --- tasks and their forms -----------------------------------------------------------------------


class Option(Body):
    value: str
    label: str
    help: str | MISSING = Attr(MISSING, description="korte uitleg bij deze keuze")


class FormField(Body):
    """A form field (CONTRACT section 4 "A field", section 5 `required_when`)."""

    DESCRIPTION = "een veld van het formulier van een taak"

    name: str
    label: str
    type: Literal["string", "text", "boolean", "enum", "multi", "date", "integer"] = Attr(
        description="multi: het antwoord is een lijst van waarden uit options, elk hoogstens "
                    "één keer")
    required: bool = Attr(description="verplicht; false bij een veld met required_when")
    help: str
    options: list[Option] | MISSING = Attr(MISSING, description="alleen bij type enum en multi")
    default: bool | list[str] | MISSING = Attr(
        MISSING, description="de waarde die wordt vastgelegd als het veld leeg blijft")
    maxlength: int | MISSING = MISSING
    required_when: str | MISSING = Attr(
        MISSING, description="verplicht (en van toepassing) als deze voorwaarde over de "
                             "casusgegevens geldt, in de taal van de voorwaarden van het diagram")
    invalid_when: str | MISSING = Attr(
        MISSING, description="een antwoord wordt geweigerd als deze voorwaarde geldt")
    invalid_message: str | MISSING = Attr(MISSING, description="de melding bij invalid_when")
    not_after: Literal["today"] | MISSING = Attr(
        MISSING, description="alleen bij type date: geen dag na vandaag (Nederlandse tijd), "
                             "voor wat al gebeurde")
    not_before: Literal["today"] | MISSING = Attr(
        MISSING, description="alleen bij type date: geen dag vóór vandaag (Nederlandse tijd), "
                             "voor wat gepland wordt")


class Form(Body):
    fields: list[FormField]


class Task(Stored):
    """A ready task, as a case and the task list show it."""

    DESCRIPTION = "een taak (in een casus en in de takenlijst: de gereedstaande)"
    NULL_WHEN_DAMAGED = ("case_id", "ready_at", "state", "urgent")

    id: str
    case_id: int | None = Attr(description=ONLY_DAMAGED)
    step: str = Attr(description="BPMN element id")
    name: str
    lane: str = Attr(description="de rol die de taak afrondt")
    state: Literal["ready", "completed", "cancelled"] | None = Attr(description=ONLY_DAMAGED)
    ready_at: Timestamp | None = Attr(description=ONLY_DAMAGED)
    due_at: Timestamp | None = Attr(
        description="uiterlijk af op (het einde van een werkdag, 23:59 Nederlandse tijd, in "
                    "UTC); null als de stap geen termijn heeft (of het beschadigd is: damaged)")
    urgent: bool | None = Attr(description="spoed: een taak van de melding (tot en met "
                                           "melding_doen) in een casus met acute onveiligheid; "
                                           + ONLY_DAMAGED)


class TaskDetail(Task):
    """One task with its form (GET /api/v1/tasks/{id})."""

    DESCRIPTION = "een taak met haar formulier"

    documentation: str = Attr(description="de toelichting bij de stap uit het diagram")
    client_ref: str
    form: Form


# --- cases and their history ---------------------------------------------------------------------


class Case(Stored):
    NULL_WHEN_DAMAGED = ("process_version", "started_at", "owner", "status")
    NULL_CODES = ("uitkomst",)

    id: int
    client_ref: str
    reason: str
    status: Literal["open", "closed"] | None = Attr(description=ONLY_DAMAGED)
    uitkomst: Literal["gemeld", "hulp", "gemeld_en_hulp", "zorgen_weggenomen",
                      "geen_vermoeden"] | None = Attr(description="null zolang de casus open is")
    process_version: int | None = Attr(description=ONLY_DAMAGED)
    owner: str | None = Attr(description=ONLY_DAMAGED)
    started_at: Timestamp | None = Attr(description=ONLY_DAMAGED)
    closed_at: Timestamp | None
    stalled_at: Timestamp | None = Attr(
        description="sinds wanneer de casus vaststaat: open zonder taak en zonder wachtende "
                    "timer; null als zij verder kan")
    completed_steps: list[str] = Attr(description="element ids in volgorde van afronden")
    data: Data = Attr(description="vastgelegde gegevens")
    tasks: list[Task] = Attr(description="de gereedstaande taken")
    linked_cases: list[int] = Attr(
        description="de ids van de gekoppelde casussen, in beide richtingen: de casus die met "
                    "linked_case voor de kinderen van deze werd gestart, of de casus waarvoor "
                    "deze werd gestart")
    practice: bool | MISSING = Attr(
        MISSING, description="true bij een oefencasus (de oefenmodus: verzonnen, telt nergens "
                             "mee); ontbreekt bij een echte casus")


class CompletedCase(Case):
    """The case after a task was completed."""

    DESCRIPTION = "de casus na het afronden van een taak"

    next_task: str | None = Attr(
        description="de taak die deze gebruiker nu moet openen (de melding eerst bij acute "
                    "onveiligheid, anders dezelfde tak), of null")


class HistoryEvent(Stored):
    NULL_WHEN_DAMAGED = ("seq", "at")

    seq: int | None = Attr(description=ONLY_DAMAGED)
    at: Timestamp | None = Attr(description=ONLY_DAMAGED)
    actor: str
    action: str = Attr(
        description="case_started, task_completed, decision_made, case_closed, "
                    "case_handed_over (data: from, to, reason; beroepsgroep_van and "
                    "beroepsgroep when the case takes the new owner's group), "
                    "case_shared (data: with, reason), "
                    "case_linked (data: case, het id van de gekoppelde casus), "
                    "case_stalled (data: waiting_at), case_migrated (data: from, to)")
    step: str | None
    task_id: str | None
    data: Data
    hash: str = Attr(description="de schakel in de hashketen van de casus")


class Verdict(Body):
    ok: bool
    events: int
    problems: list[str]


class AccessLogEntry(Stored):
    """A line of the access log (NEN 7513)."""

    DESCRIPTION = "een regel van het toegangslog (NEN 7513): lezen of wijzigen, ook geweigerd"
    NULL_WHEN_DAMAGED = ("at", "outcome")

    at: Timestamp | None = Attr(description=ONLY_DAMAGED)
    user: str
    role: str
    action: str
    outcome: Literal["ok", "denied"] | None = Attr(description=ONLY_DAMAGED)
    on_behalf_of: str | None
    source: str | None = Attr(description="het adres van de aanvrager")
    client_ref: str | None


# --- processes and the admin log -----------------------------------------------------------------


class ProcessVersion(Body):
    version: int
    sha256: str
    deployed_at: Timestamp
    deployed_by: str
    active: bool
    files: list[str]


class DeployedVersion(ProcessVersion):
    created: bool = Attr(description="een nieuwe versie")
    reactivated: bool = Attr(
        description="een bestaande versie met precies deze bestanden is weer actief")


class AdminLogEntry(Body):
    at: Timestamp | None = Attr(
        description="null alleen bij een beschadigde regel waarvan het tijdstip onleesbaar is")
    user: str
    action: str
    detail: Data | None = Attr(
        description="de feiten van de handeling; nooit een wachtwoord of token; null alleen bij "
                    "een beschadigde regel waarvan de gegevens onleesbaar zijn")
    damaged: str | MISSING = Attr(
        MISSING, description="alleen bij een regel die buiten de applicatie beschadigd is en "
                             "niet terug te lezen: wat er onleesbaar is (de regel wordt toch "
                             "getoond; meldcode verify --all meldt haar); of bij een regel die "
                             "gewijzigd of gekopieerd is: wat verify erover zegt (changed)")
    changed: bool | MISSING = Attr(
        MISSING, description="alleen true: de sleutelhash van de regel klopt niet (na het "
                             "vastleggen gewijzigd) of de regel is een kopie van een eerdere "
                             "(herhaald of dubbel); damaged zegt wat")
    moved: bool | MISSING = Attr(
        MISSING, description="alleen true: de regel staat na een regel met een hogere positie "
                             "(de volgorde van het beheerlog is veranderd); damaged zegt wat")
    gap: str | MISSING = Attr(
        MISSING, description="alleen bij de regel na posities die ontbreken (regels "
                             "verwijderd): welke posities, zoals verify het zegt")


# --- errors --------------------------------------------------------------------------------------


class Error(Body):
    """Every refusal: 400, 401, 403, 404, 405, 409, 413, 422 (with `errors`), 503. The message
    is in the request's language (webui.extensions.select_locale)."""

    DESCRIPTION = "een weigering, met bij 422 de meldingen per veld"

    error: str = Attr(description="de melding: in het Nederlands, in het Engels als het verzoek "
                                  "daarom vraagt (kop `Accept-Language: en`)")
    errors: dict[str, str] | MISSING = Attr(
        MISSING, description="bij 422: per veld (of onbekende sleutel) een melding")


class PathHop(Body):
    step: str
    data: Data = Attr(description="de antwoorden die in deze stap gegeven zijn")


class DeployProblem(Body):
    file: str
    line: int = Attr(description="1 als het probleem geen regel heeft")
    message: str
    path: list[PathHop] | MISSING = Attr(
        MISSING, description="bij een probleem uit het bewijs van alle routes: de getuigeroute, "
                             "de stappen in volgorde met de gegeven antwoorden")


class DeployRefusal(Body):
    """422 of a deploy: the problems per file, nothing deployed."""

    DESCRIPTION = "niet publiceerbaar: de problemen per bestand; niets gepubliceerd"

    error: str
    errors: list[DeployProblem]


# --- request bodies (described in the document; the engine checks them, in Dutch) ----------------


class StartCaseRequest(Body):
    client_ref: Annotated[str, Attr(max_length=200)]
    reason: Annotated[str, Attr(max_length=2000)] | MISSING = MISSING
    linked_case: Annotated[int, Attr(ge=1, le=2**31 - 1)] | MISSING = Attr(
        MISSING, description="het id van een casus van dezelfde eigenaar waaraan de nieuwe "
                             "casus gekoppeld wordt (bijvoorbeeld een casus voor de kinderen); "
                             "een andere waarde: 422 met errors.linked_case")


Reason = Annotated[str, Attr(max_length=2000, description="waarom; komt in de geschiedenis")]


class HandOverRequest(Body):
    user: str = Attr(description="gebruikersnaam van de nieuwe eigenaar (medewerker, "
                                 "leidinggevende of aandachtsfunctionaris)")
    reason: Reason


class ShareRequest(Body):
    user: str = Attr(description="gebruikersnaam van de aandachtsfunctionaris")
    reason: Reason


class ConsultRequest(Body):
    user: str = Attr(description="gebruikersnaam van de leidinggevende van de eigenaar of van "
                                 "een aandachtsfunctionaris")
    question: str = Attr(max_length=2000, description="de vraag; komt in de geschiedenis")


class ConsultCreated(Body):
    DESCRIPTION = "een raadpleging: haar nummer en de taak van wie geraadpleegd wordt"

    id: int
    task_id: str


class Notification(Stored):
    DESCRIPTION = ("een melding voor de gebruiker: de tekst noemt een stap en een casusnummer, "
                   "nooit gegevens van de cliënt")
    NULL_WHEN_DAMAGED = ("at",)

    id: int
    at: Timestamp | None = Attr(description=ONLY_DAMAGED)
    kind: Literal["task_ready", "task_due", "task_overdue", "informed", "consult"]
    case_id: int | None
    task_id: str | None
    text: str = Attr(description="in de taal van de lezer (Accept-Language)")
    read: bool


class CompleteRequest(Body):
    data: Data = Attr(description="per veld van het formulier het antwoord")
