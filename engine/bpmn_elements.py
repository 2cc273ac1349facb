"""Which BPMN elements the product executes completely; every other element is refused.

The runtime offers ready user tasks to people, runs business rule tasks, gateways and plain
start and end events, and fires timers that catch or sit on an activity's boundary (the
scheduler, engine/timers.py); nothing in the product sends or receives messages or signals, or
completes a task of any other kind.
A case that reaches such an element would stall or crash, so a deploy refuses it, naming the
element by its label.
"""

from __future__ import annotations

from lxml import etree

from .messages import N_, Message
from .problems import BPMN_NS, NS, Problem, label_of
from .problems import line_of as _line

# Tasks that nobody in the product completes. Why, in words for the process owner.
_TASKS = {
    "task": N_("is een taak zonder soort: het product biedt die aan niemand aan en niemand kan "
            "haar afronden, dus zaken blijven er staan; maak er een gebruikerstaak met een "
            "formulier van"),
    "manualTask": N_("is een handmatige taak: het product biedt die aan niemand aan en niemand kan "
                  "haar afronden; maak er een gebruikerstaak met een formulier van"),
    "sendTask": N_("is een verzendtaak: het product verstuurt geen berichten"),
    "receiveTask": N_("is een ontvangsttaak: het product ontvangt geen berichten, dus zaken "
                   "blijven erop wachten"),
    "scriptTask": N_("is een scripttaak: scripts in een diagram worden niet uitgevoerd"),
    "serviceTask": N_("is een servicetaak: het product roept geen diensten aan"),
}

_STRUCTURES = {
    "complexGateway": N_("is een complexe gateway: die voert het product niet uit; gebruik een "
                      "exclusieve, inclusieve of parallelle gateway"),
    "eventBasedGateway": N_("is een gebeurtenisgestuurde gateway: die wacht op berichten, signalen "
                         "of timers, en die vuurt het product niet af"),
    "transaction": N_("is een transactie: die voert het product niet uit; zet de stappen in het "
                   "hoofdproces"),
    "adHocSubProcess": N_("is een ad-hocsubproces: dat voert het product niet uit; zet de stappen "
                       "in het hoofdproces"),
    "callActivity": N_("roept een ander proces aan: het product voert alleen stappen in het "
                    "hoofdproces uit (formulieren, lanes, geschiedenis en controle gaan daarvan "
                    "uit); zet de stappen in het hoofdproces"),
}

_EVENTS = {
    "messageEventDefinition": N_("is een berichtgebeurtenis: het product verstuurt en ontvangt "
                              "geen berichten, dus deze gebeurtenis vindt nooit plaats"),
    "signalEventDefinition": N_("is een signaalgebeurtenis: het product verstuurt en ontvangt geen "
                             "signalen, dus deze gebeurtenis vindt nooit plaats"),
    # Timers fire as intermediate catch and boundary events (engine/timers.py); elsewhere:
    "timerEventDefinition": N_("is een tijdgebeurtenis (timer) op een plek waar het product die "
                            "niet afvuurt: een casus begint doordat iemand haar start; een timer "
                            "kan een tussengebeurtenis of een randgebeurtenis zijn"),
    "escalationEventDefinition": N_("is een escalatiegebeurtenis: die voert het product niet uit"),
    "conditionalEventDefinition": N_("is een voorwaardelijke gebeurtenis: het product bewaakt zulke "
                                  "voorwaarden niet, dus deze gebeurtenis vindt nooit plaats"),
    "compensateEventDefinition": N_("is een compensatiegebeurtenis: compensatie voert het product "
                                 "niet uit"),
    "linkEventDefinition": N_("is een koppelingsgebeurtenis: die voert het product niet uit; "
                           "verbind de elementen met een gewone stroom"),
    "cancelEventDefinition": N_("is een annuleringsgebeurtenis: transacties voert het product niet "
                             "uit"),
}
_EVENT_TAGS = ("startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent",
               "boundaryEvent")
_SCOPES = ("subProcess", "transaction", "adHocSubProcess")


def _local(node) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _definitions_of(event, root) -> list[str]:
    """The kinds of an event's definitions, also those it refers to by eventDefinitionRef."""
    kinds = [_local(child) for child in event if _local(child).endswith("EventDefinition")]
    for ref in event.findall(f"{{{BPMN_NS}}}eventDefinitionRef"):
        target = (ref.text or "").strip()
        # ids are NCNames (the XSD checked that), so they are safe inside the XPath string
        found = root.xpath(f"//*[@id='{target}']") if target and "'" not in target else []
        kinds.extend(_local(node) for node in found[:1])
    return kinds


def lint_elements(name: str, root) -> list[Problem]:
    """Problems for every element in the BPMN tree `root` that the product does not execute
    completely: task kinds nobody completes, events nothing fires, structures the runtime
    does not run, user tasks below the main process, repeated activities. `name` is the file
    name for the problems. Never raises on odd but schema-valid input."""
    problems: list[Problem] = []

    def refuse(node, why: str) -> None:
        problems.append(Problem(name, _line(node), _element_is(node, why)))

    for node in root.iter():
        local = _local(node)
        if not local or etree.QName(node).namespace != BPMN_NS:
            continue
        if local in _TASKS:
            refuse(node, _TASKS[local])
        elif local in _STRUCTURES:
            refuse(node, _STRUCTURES[local])
        elif local == "subProcess" and node.get("triggeredByEvent") == "true":
            refuse(node, N_("is een gebeurtenissubproces: dat voert het product niet uit"))
        elif local in _EVENT_TAGS:
            problems.extend(_event_problems(name, node, root))
        if node.get("isForCompensation") == "true":
            refuse(node, N_("is een compensatieactiviteit: compensatie voert het product niet "
                            "uit"))
        for loop in node.xpath(
            "bpmn:multiInstanceLoopCharacteristics | bpmn:standardLoopCharacteristics",
            namespaces=NS,
        ):
            problems.append(Problem(name, _line(loop), Message(N_(
                "{element} wordt meermaals of in een lus uitgevoerd (multi-instance of lus): "
                "zo'n taak herstelt het product niet goed na een herstart; teken de herhaling "
                "met een gateway en een stroom terug naar de taak"), element=label_of(node))))
    for task in root.xpath("//bpmn:userTask", namespaces=NS):
        scope = _enclosing_scope(task)
        if scope is not None:
            problems.append(Problem(name, _line(task), Message(N_(
                "gebruikerstaak {task} staat in subproces {scope}: formulieren, lanes, "
                "geschiedenis en controle werken alleen voor stappen in het hoofdproces; zet de "
                "stappen in het hoofdproces"), task=label_of(task), scope=label_of(scope))))
    return problems


def _element_is(node, why: str) -> Message:
    """'<label> <why>': the element named, then what is wrong with it (a Message)."""
    return Message("{element} {why}", element=label_of(node), why=why)


def _enclosing_scope(node):
    parent = node.getparent()
    while parent is not None:
        if _local(parent) in _SCOPES and etree.QName(parent).namespace == BPMN_NS:
            return parent
        parent = parent.getparent()
    return None


def _event_problems(name: str, event, root) -> list[Problem]:
    local = _local(event)
    kinds = _definitions_of(event, root)
    problems = []
    for kind in dict.fromkeys(kinds):
        why: str | None = _EVENTS.get(kind)
        if kind == "errorEventDefinition":
            why = _error_event_problem(event, root)
        elif kind == "timerEventDefinition" and local in ("intermediateCatchEvent",
                                                          "boundaryEvent"):
            # fired by the scheduler (engine/scheduler.py); SpiffWorkflow reads only a
            # definition inside the event
            why = None if any(_local(c) == kind for c in event) else N_(
                "verwijst naar een timerdefinitie elders in het bestand: die leest het product "
                "niet; zet de timerdefinitie in de gebeurtenis zelf")
        elif kind == "terminateEventDefinition" and local != "endEvent":
            why = N_("is een beëindigingsgebeurtenis die geen eindgebeurtenis is")
        if why:
            problems.append(Problem(name, _line(event), _element_is(event, why)))
    if not kinds and local in ("intermediateCatchEvent", "boundaryEvent"):
        problems.append(Problem(name, _line(event), _element_is(event, N_(
            "wacht op een gebeurtenis zonder te zeggen welke: die vindt nooit plaats"))))
    return problems


def _error_event_problem(event, root) -> str | None:
    """Error end events end their (sub)process; an error boundary event can only be reached
    through an error thrown inside the sub-process it is attached to."""
    local = _local(event)
    if local == "endEvent":
        return None
    if local == "boundaryEvent":
        attached = event.get("attachedToRef") or ""
        found = root.xpath(f"//*[@id='{attached}']") if "'" not in attached else []
        if found and _local(found[0]) == "subProcess":
            return None
        return N_("is een foutgebeurtenis aan een activiteit die nooit een fout geeft: deze "
                  "route wordt nooit genomen")
    return N_("is een foutgebeurtenis: die voert het product hier niet uit")
