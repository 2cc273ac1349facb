"""Practice mode (issue 14 point 5): fictional cases that walk a new employee through the
meldcode, kept apart from the real ones.

The Wet verplichte meldcode asks an organisation to promote knowledge and use of its meldcode
(issue 14; ../shared/domain/MELDCODE.md "Who uses it"). A practice case runs the active diagram through the
same engine as a real case, so the forms, help texts and routes are the real ones; it is a
row of `cases` with `practice` true and a fictional client reference ("Oefening: ...").

Kept apart: no list, inbox, team overview, auditor search or figure shows it
(pages.list_cases, tasks.ready_task_rows, overview.team_cases, oversight.find_cases,
`meldcode cases`); only its owner reads it and completes every lane's task in it
(users.may_read_case, users.may_complete; an auditor may open it by number, CONTRACT section
2); nobody is notified, mailed, reminded or informed about it (notifications.after_change,
reminders.send_reminders, informing.recipients) and it is never handed over, shared or
consulted on (sharing, consults: 409). Its history is stored and chained like any other, so
`meldcode verify --all` checks it; `practice` is sealed in its header (audit.header_content),
so a real case turned into a practice case to hide it from the figures fails verify.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import cases, commands, listings
from .errors import Invalid
from .messages import N_, Message
from .models import Case, TaskRecord
from .roles import AUDITOR, CASE_STARTERS
from .store import unit_of_work
from .timezones import to_utc
from .users import Principal

SHOWN_IN_PRACTICE = "list_practice"  # the access-log action of a case shown on the practice page
CASES_SHOWN = 50  # the newest practice cases of the owner on the page


@dataclass(frozen=True)
class Scenario:
    """A fictional situation to practise on: its key (the form's value), title and story
    (Messages), the client reference its case gets (stored as its Dutch text: a reference is
    data, like any client reference; a page shows it in the reader's language, `shown`) and per
    step (element id) a hint of a good answer."""

    key: str
    title: Message
    client_ref: Message
    story: Message
    hints: Mapping[str, Message] = field(default_factory=dict)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "peuter",
        N_("Een peuter met blauwe plekken"),
        N_("Oefening: peuter op de kinderopvang"),
        N_("U werkt op een kinderopvang. Bij het verschonen ziet u blauwe plekken op de "
           "bovenarmen en de rug van Sem (2 jaar). Zijn vader zegt bij het ophalen dat Sem van "
           "de bank is gevallen. Het is de tweede keer deze maand dat u plekken ziet."),
        {
            "stap1_signalen": N_(
                "Schrijf op wat u zag en hoorde (waar de plekken zitten, hun vorm en kleur, de "
                "uitleg van vader) en houd feiten en uw eigen uitleg gescheiden. Het gaat om "
                "lichamelijk geweld tegen een kind."),
            "stap2_overleg": N_(
                "Bespreek de signalen met een collega of de aandachtsfunctionaris. Twijfelt u, "
                "vraag dan advies aan Veilig Thuis; dat kan zonder de naam van het kind te "
                "noemen. Noteer wat het advies was."),
            "stap3_gesprek": N_(
                "Vertel de ouders rustig en zonder te beschuldigen wat u zag, en vraag hoe het "
                "kwam. Noteer wat zij zeggen en of dat uw zorgen wegneemt."),
            "stap4_wegen": N_(
                "Herhaalde plekken op plaatsen waar een peuter zich zelden stoot, met een uitleg "
                "die er niet bij past: in deze oefening is er een vermoeden. Weeg apart of het "
                "kind nu of steeds opnieuw onveilig is."),
            "stap5_beslissen": N_(
                "Kan de kinderopvang zelf hulp bieden die de mishandeling stopt? Bij herhaald "
                "letsel bij een jong kind is melden bij Veilig Thuis meestal de juiste keuze."),
        },
    ),
    Scenario(
        "geld",
        N_("Een oudere cliënt die geld kwijtraakt"),
        N_("Oefening: oudere cliënt in de thuiszorg"),
        N_("U bent wijkverpleegkundige bij mevrouw Jansen (84), die beginnend dement is. Haar "
           "pinpas ligt volgens haar bij haar neef, die de boodschappen doet. De koelkast is "
           "bijna leeg, de huur is twee maanden niet betaald en zij zegt bang te zijn dat haar "
           "neef boos wordt."),
        {
            "stap1_signalen": N_(
                "Dit is ouderenmishandeling: financiële uitbuiting, misschien ook verwaarlozing, "
                "van een oudere. Beschrijf feitelijk wat u zag (de lege koelkast, de rekeningen) "
                "en wat mevrouw zelf zei. Er zijn geen kinderen die van haar zorg afhankelijk "
                "zijn."),
            "stap2_overleg": N_(
                "Overleg met een collega of de aandachtsfunctionaris en vraag zo nodig Veilig "
                "Thuis om advies. Sta ook stil bij de vraag of mevrouw deze beslissing zelf kan "
                "overzien."),
            "stap3_gesprek": N_(
                "Spreek mevrouw alleen, zonder de neef. Vraag wat zij zelf wil. Is een gesprek "
                "met de neef onveilig voor haar, leg dan vast waarom u dat niet doet."),
            "stap4_wegen": N_(
                "Afhankelijkheid, angst en onbetaalde rekeningen wijzen op een vermoeden. Heeft "
                "mevrouw nu geen eten of geld, dan kan de onveiligheid acuut zijn."),
            "stap5_beslissen": N_(
                "Kunt u hulp organiseren, zoals een bewindvoerder of schuldhulp, en neemt "
                "mevrouw die aan? Lukt dat niet, dan meldt u bij Veilig Thuis."),
        },
    ),
    Scenario(
        "zomer",
        N_("Een scholiere die bang is voor de zomervakantie"),
        N_("Oefening: scholiere van 15 en de zomervakantie"),
        N_("U bent jeugdverpleegkundige. Op het spreekuur vertelt Amal (15) dat haar ouders "
           "in de zomer met haar naar familie in het buitenland willen. Een nicht van haar is "
           "daar op die manier uitgehuwelijkt en niet teruggekomen. Amal vraagt u niets tegen "
           "haar ouders te zeggen."),
        {
            "stap1_signalen": N_(
                "Kies huwelijksdwang en achterlating, en eergerelateerd geweld als de eer van de "
                "familie een rol speelt; het slachtoffer is een kind. Schrijf Amals eigen "
                "woorden op. Vraag bij de kindcheck naar broers en zussen."),
            "stap2_overleg": N_(
                "Bij deze vormen vraagt u altijd advies. Na deze stap brengt het diagram u naar "
                "het raadplegen van een deskundige, nog vóór een gesprek."),
            "deskundige_raadplegen": N_(
                "Raadpleeg Veilig Thuis en de deskundige van uw organisatie voordat u met Amal "
                "of haar ouders verder praat: een gesprek met de familie kan het gevaar groter "
                "maken. Leg het advies vast. Vertrekt zij binnen enkele dagen, handel dan "
                "meteen."),
            "stap3_gesprek": N_(
                "Bespreek het vermoeden niet met de ouders. Spreek Amal alleen, op een veilige "
                "plek. Is ook dat niet veilig, kies dan de uitzondering en leg de reden vast."),
            "stap4_wegen": N_(
                "Een vertrek naar het buitenland heeft een datum: weeg of de onveiligheid acuut "
                "is, ook als die datum nog weken weg is."),
            "stap5_beslissen": N_(
                "Bij dreigende huwelijksdwang of achterlating is een melding bij Veilig Thuis "
                "bijna altijd nodig; Veilig Thuis kan samen met de politie maatregelen nemen."),
        },
    ),
)

BY_KEY = {s.key: s for s in SCENARIOS}
BY_CLIENT_REF = {str(s.client_ref): s for s in SCENARIOS}
_BY_STORY = {str(s.story): s.story for s in SCENARIOS}

# What a good answer looks like in a step no scenario says more about.
STEP_HINTS: Mapping[str, Message] = {
    "besluit_afstemmen": N_(
        "In een echte casus rondt uw leidinggevende deze stap af. In de oefening doet u dat "
        "zelf; niemand krijgt er bericht van."),
    "melding_igj": N_(
        "In een echte casus meldt de leidinggevende namens de zorgaanbieder aan de IGJ. In de "
        "oefening vult u het zelf in; er gaat niets naar de IGJ."),
    "melding_voorbespreken": N_(
        "Vertel de cliënt (of de ouders) dat u gaat melden en waarom, tenzij dat iemand in "
        "gevaar brengt of het contact verbreekt."),
    "melding_doen": N_(
        "Leg vast wanneer u meldde, wie u sprak en wat u afsprak. In de oefening meldt u niet "
        "echt."),
    "terugkoppeling_vt": N_(
        "Noteer of en wanneer Veilig Thuis liet weten wat het met de melding doet. In de "
        "oefening bedenkt u zelf het antwoord."),
    "hulp_organiseren": N_(
        "Beschrijf welke hulp er komt, wie die geeft en wanneer u nagaat of het werkt."),
    "hulp_evalueren": N_(
        "Is de onveiligheid gestopt en blijft dat zo? Zo niet, dan volgt alsnog een melding."),
}
GENERAL_HINT = N_("Lees de uitleg bij elk veld: die is dezelfde als in een echte casus.")


def scenario_of(client_ref: Any) -> Scenario | None:
    """The scenario a practice case was started from (by its client reference), or None."""
    return BY_CLIENT_REF.get(client_ref) if isinstance(client_ref, str) else None


def shown(text: Any) -> Any:
    """A practice case's client reference or reason as a page shows it: the scenario's Message
    (which the web layer puts in the reader's language) where `text` is exactly what a
    practice start stored, else `text` unchanged. Raises nothing."""
    if not isinstance(text, str):
        return text
    found = BY_CLIENT_REF.get(text)
    if found is not None:
        return found.client_ref
    return _BY_STORY.get(text, text)


def hint(client_ref: Any, step: str | None) -> Message:
    """What a good answer looks like in `step` (an element id) of the practice case with
    `client_ref`: the scenario's hint, else the step's (STEP_HINTS), else GENERAL_HINT."""
    found = scenario_of(client_ref)
    specific = found.hints.get(step or "") if found is not None else None
    return specific or STEP_HINTS.get(step or "") or GENERAL_HINT


def start(who: Principal, key: Any) -> dict[str, Any]:
    """Start a practice case from scenario `key` (SCENARIOS) for `who`: the active diagram,
    the scenario's client reference, its story as the reason, `practice` true. Out: the case
    (cases.case_dict). Raises Invalid (422, errors.scenario) for an unknown key, Denied (403)
    for a user who may not start cases, Conflict (409) without an active process version;
    refusals go into the access log as for a real case (cases.start_case)."""
    with commands.refusals_logged(who, None, "create", new_case=True):
        scenario = BY_KEY.get(key) if isinstance(key, str) else None
        if scenario is None:
            raise Invalid(N_("Ongeldige gegevens."), {"scenario": N_("Kies een oefening.")})
        payload = {"client_ref": str(scenario.client_ref), "reason": str(scenario.story)}
        # the very start of a real case (cases.py is at its size limit: no public twin there)
        return cases._start_case(who, payload, practice=True)  # noqa: SLF001


def overview(who: Principal) -> dict[str, Any]:
    """The practice page: the scenarios and `who`'s own practice cases (newest first, at most
    CASES_SHOWN), each {"id", "client_ref", "title", "status", "started_at" (aware UTC),
    "tasks": [{"id", "name", "step"}]}; each case shown logged as SHOWN_IN_PRACTICE. Raises
    Denied (403, logged) for a user who may not start cases."""

    def run(session: Session) -> dict[str, Any]:
        if not who.has_role(*CASE_STARTERS):
            raise commands.Denied(N_("Alleen een medewerker, leidinggevende of "
                                     "aandachtsfunctionaris kan oefenen."), None,
                                  SHOWN_IN_PRACTICE)
        rows = session.execute(
            select(Case.id, Case.client_ref, Case.status, Case.started_at)
            .where(Case.owner_id == who.id, Case.practice.is_(True))
            .order_by(Case.id.desc()).limit(CASES_SHOWN)).all()
        ready: dict[int, list[dict[str, Any]]] = {}
        if rows:
            for task in session.scalars(
                    select(TaskRecord).where(TaskRecord.case_id.in_([r.id for r in rows]),
                                             TaskRecord.state == "ready")
                    .order_by(TaskRecord.ready_at, TaskRecord.id)):
                ready.setdefault(task.case_id, []).append(
                    {"id": task.id, "name": cases.task_name(task.step, task.name),
                     "step": task.step})
        listings.log_shown(session, who, SHOWN_IN_PRACTICE, (r.id for r in rows))
        return {
            "scenarios": [{"key": s.key, "title": s.title, "story": s.story}
                          for s in SCENARIOS],
            "cases": [{"id": r.id, "client_ref": r.client_ref, "status": r.status,
                       "title": (found.title if (found := scenario_of(r.client_ref)) else
                                 r.client_ref),
                       "started_at": to_utc(r.started_at), "tasks": ready.get(r.id, [])}
                      for r in rows],
        }

    return commands.run_command(who, run)


def is_practice(session: Session, case_id: Any) -> bool:
    """Whether case `case_id` is a practice case (False for no such case)."""
    if not isinstance(case_id, int):
        return False
    return bool(session.scalar(select(Case.practice).where(Case.id == case_id)))


def marks(who: Principal | None, case_id: Any = None, task_id: Any = None) -> bool:
    """Whether a page about case `case_id` (or the case of task `task_id`) is marked as
    practice for `who`: a practice case that `who` reads (its owner, or an auditor:
    users.may_read_case). For the error pages of a practice case's routes (a 409 for a
    consult, handover or share, a 422), so the mark is on every page of it; False for anyone
    else (nothing said about whether the case exists or is practice), no such case or task, or
    an id that is no number or string. Raises nothing of its own."""
    if who is None:
        return False
    with unit_of_work() as session:
        if isinstance(task_id, str) and case_id is None:
            case_id = session.scalar(select(TaskRecord.case_id).where(TaskRecord.id == task_id))
        if not isinstance(case_id, int) or not 0 < case_id <= commands.MAX_ID:
            return False
        row = session.execute(select(Case.practice, Case.owner_id)
                              .where(Case.id == case_id)).first()
    return bool(row is not None and row.practice
                and (row.owner_id == who.id or who.has_role(AUDITOR)))


def practice_case(case_id: Any) -> bool:
    """is_practice in a read transaction of its own."""
    with unit_of_work() as session:
        return is_practice(session, case_id)


Row = TypeVar("Row", bound=Mapping[str, Any])


def real_only(session: Session, rows: Iterable[Row]) -> list[Row]:
    """`rows` (dicts with the case's "id") without those of practice cases, in their order:
    for lists that are read without the cases table (`meldcode cases`)."""
    rows = list(rows)
    ids = [row["id"] for row in rows]
    hidden = set(session.scalars(select(Case.id).where(
        Case.id.in_(ids), Case.practice.is_(True)))) if ids else set()
    return [row for row in rows if row["id"] not in hidden]

