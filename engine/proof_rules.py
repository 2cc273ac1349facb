"""The meldcode's rules on a route of the proof (engine.proof): what a route must keep.

`Rules` checks, while engine.proof_explorer walks the routes, the soundness of the workflow net
(van der Aalst: no stall, no user task ready twice at once, every end with an `uitkomst` the
route justifies) and the meldcode's own rules (CONTRACT sections 1 and 5, DESIGN.md "Proof
before publish"): the contract steps in order, one melding per trigger, no close without a
melding when one is owed, a `geen_vermoeden` close only with the talk with the client recorded,
an exemption only with a non-blank reason, and an acute melding never waiting on anyone but the
person making it; with eergerelateerd geweld, huwelijksdwang or achterlating the expert
(`deskundige_raadplegen`) before any talk with the client, and with a professional carer as
suspected perpetrator the IGJ melding (`melding_igj`) before the case closes (CONTRACT section
5). What a route remembers for them is its `Monitor`; a problem goes to the
proof's Findings (engine.proof_diagram) at the element where the route goes wrong.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.specs.defaults import EndEvent
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.util.task import TaskState

from . import expressions, forms
from .messages import N_, Message
from .problems import joined

if TYPE_CHECKING:
    from .proof_diagram import Diagram, Findings

# CONTRACT section 1: the steps, and the variables the meldcode rules read.
STAP = ("stap1_signalen", "stap2_overleg", "stap3_gesprek", "stap4_wegen", "stap5_beslissen")
MELDING_DOEN = "melding_doen"
VOORBESPREKEN = "melding_voorbespreken"
HULP_ORGANISEREN = "hulp_organiseren"
HULP_EVALUEREN = "hulp_evalueren"
MELDING_STEPS = ("melding_voorbereiden", VOORBESPREKEN, MELDING_DOEN)
# The record of the talk about a "geen vermoeden" conclusion (stap 4): discussed, or why not.
TALK_RECORDED = "weging_besproken_client"
TALK_REASON = "weging_niet_besproken_reden"
MEDEWERKER = "medewerker"
# CONTRACT section 5: the expert first with these forms of violence, before every talk with the
# client (stap 3, the talk about the conclusion in stap 4, the talk about the melding); and the
# organisation's IGJ melding when the suspected perpetrator is a professional carer.
DESKUNDIGE = "deskundige_raadplegen"
MELDING_IGJ = "melding_igj"
EXPERT_FIRST = ("eergerelateerd", "huwelijksdwang", "achterlating")
EXPERT_NEEDED = " or ".join(f"'{v}' in geweldsvormen" for v in EXPERT_FIRST)
EXPERT_TALKS = ("stap3_gesprek", "stap4_wegen", VOORBESPREKEN)
# Variables the rules below read: always part of a state's identity.
RULE_VARIABLES = frozenset({
    "gesprek_uitzondering", "zorgen_weggenomen", "vermoeden", "acute_onveiligheid",
    "structurele_onveiligheid", "besluit_melden", "melding_uitzondering", "hulp_effectief",
    TALK_RECORDED, TALK_REASON,
})
# The answers the rules of CONTRACT section 5 read: always tried (routed), also in a diagram
# whose conditions do not read them.
SECTION5_VARIABLES = frozenset({"geweldsvormen", "pleger_zorgverlener"})

# What the order rules (_order_problem) read when a step completes.
ORDER_READS = {
    "stap3_gesprek": ("gesprek_uitzondering",),
    "stap4_wegen": ("gesprek_uitzondering", "zorgen_weggenomen"),
    "stap5_beslissen": ("vermoeden",),
    HULP_ORGANISEREN: ("vermoeden",),
    **{step: ("vermoeden",) for step in MELDING_STEPS},
    MELDING_DOEN: ("vermoeden", "melding_uitzondering"),
}


@dataclass(frozen=True)
class Monitor:
    """What the meldcode rules remember along a route (part of a state's identity)."""

    done: frozenset[str] = frozenset()  # contract steps completed at least once
    pending: int = 0  # meldingen owed: decided or triggered, melding_doen not yet completed
    meldingen: int = 0  # melding_doen completions, capped at 2 for the state identity
    voorbesproken: bool = False  # melding_voorbespreken done for the melding under way
    acute: bool = False  # acute_onveiligheid answered yes
    must_melden: bool = False  # besluit_melden, acute or structural unsafety: yes
    evidence: str = ""  # what justifies an uitkomst so far: "zw" or "gv" (see Rules._closing_rules)
    talk: bool = False  # the talk about the conclusion recorded, or why not
    # Owed until done (then False again: the states after it are those of any route)
    expert: bool = False  # a form of violence of EXPERT_FIRST recorded, the expert not yet asked
    igj: bool = False  # pleger_zorgverlener answered yes, melding_igj not yet completed


@dataclass
class State:
    """A state of the search: the workflow (as text, and live while a transition may still use
    it), the case data, the monitor, the ready tasks, and the hop that led here from `parent`."""

    snapshot: str
    counter: int
    data: dict[str, Any]
    monitor: Monitor
    ready: list[tuple[str, str]] = field(default_factory=list)  # (task id, step) ready now
    # Timers waiting now: (task id, element id, due): a wait the scheduler ends (a move).
    timers: list[tuple[str, str, Any]] = field(default_factory=list)
    workflow: Any = None  # the live workflow of this state, used up by its last transition
    parent: State | None = None
    hop: dict[str, Any] | None = None

    def path(self) -> tuple[dict[str, Any], ...]:
        hops = []
        node: State | None = self
        while node is not None and node.hop is not None:
            hops.append(node.hop)
            node = node.parent
        return tuple(reversed(hops))


class Rules:
    """The rules of one proof: `before_step` on a step being completed, `absorb_decisions` and
    `after_advance` on the state the engine then reached. Problems go to `findings`."""

    def __init__(self, definition, diagram: Diagram, findings: Findings):
        self.definition = definition
        self.diagram = diagram
        self.findings = findings
        self._melding_reach = self._reaches(MELDING_DOEN)
        self._after_melding = self.diagram.only_after(MELDING_DOEN)

    def before_step(self, state: State, child: State, step: str, answers: dict) -> bool:
        """Rules on the step being completed; updates the child's monitor. False: prune."""
        m = state.monitor
        data = child.data
        label = self.findings.label(step)
        order = self._order_problem(m, step, state.data)
        if order:
            self.findings.add(step, "order", Message(N_(
                "{step} komt op deze route te vroeg of ten onrechte: {why}"), step=label,
                why=order), state, child.hop)
        self._exemption_rule(state, child, step, answers)
        if step in EXPERT_TALKS and m.expert:
            self.findings.add(step, "expert", Message(N_(
                "{step} komt op deze route vóór {expert}: bij eergerelateerd geweld, "
                "huwelijksdwang of achterlating gaat het advies van een deskundige en Veilig "
                "Thuis voor elk gesprek met de cliënt"), step=label,
                expert=self.findings.label(DESKUNDIGE)), state, child.hop)
        done = m.done | {step} if step in STAP or step in MELDING_STEPS or step in (
            HULP_ORGANISEREN, HULP_EVALUEREN) else m.done
        pending, meldingen, voorbesproken = m.pending, m.meldingen, m.voorbesproken
        if step == VOORBESPREKEN:
            voorbesproken = True
        if step == MELDING_DOEN:
            if data.get("melding_uitzondering") == "geen" and not voorbesproken:
                self.findings.add(step, "order", Message(N_(
                    "{step}: de melding wordt gedaan zonder dat zij eerst met de cliënt is "
                    "besproken, terwijl er geen uitzondering is gekozen"), step=label),
                    state, child.hop)
            if pending == 0:
                self.findings.add(step, "extra_melding", Message(N_(
                    "{step} wordt vaker afgerond dan de antwoorden vragen: er loopt al een "
                    "melding of er is geen reden voor een nieuwe"), step=label), state, child.hop)
            pending = max(0, pending - 1)
            meldingen = min(2, meldingen + 1)
            voorbesproken = False
        if answers.get("hulp_effectief") is False and pending == 0:
            pending = 1  # rule 7: failed help asks for a melding, unless one is under way
        evidence = m.evidence
        if step == "stap3_gesprek" and answers.get("zorgen_weggenomen") is True:
            evidence = "zw"
        if step == "stap4_wegen" and answers.get("vermoeden") is False:
            evidence = "gv"
        talk = m.talk or answers.get(TALK_RECORDED) is True or bool(
            str(answers.get(TALK_REASON) or "").strip())
        child.monitor = Monitor(
            frozenset(done), pending, meldingen, voorbesproken,
            acute=m.acute or answers.get("acute_onveiligheid") is True,
            must_melden=m.must_melden or any(answers.get(n) is True for n in (
                "acute_onveiligheid", "structurele_onveiligheid")),
            evidence=evidence, talk=talk,
            expert=step != DESKUNDIGE and (m.expert or _holds(EXPERT_NEEDED, answers)),
            igj=step != MELDING_IGJ and (m.igj or answers.get("pleger_zorgverlener") is True))
        return True

    def _order_problem(self, m: Monitor, step: str, data: dict) -> str | None:
        done = m.done
        if step in STAP and step in done:
            return N_("deze stap is al afgerond")
        needs = {
            "stap2_overleg": ["stap1_signalen"],
            "stap3_gesprek": ["stap2_overleg"],
            "stap4_wegen": ["stap2_overleg"],
            "stap5_beslissen": ["stap4_wegen"],
            HULP_ORGANISEREN: ["stap5_beslissen"],
            HULP_EVALUEREN: [HULP_ORGANISEREN],
            DESKUNDIGE: ["stap2_overleg"],
        }.get(step, ["stap5_beslissen"] if step in MELDING_STEPS else [])
        missing = [s for s in needs if s not in done]
        if missing:
            return Message(N_("eerst moet {steps} zijn afgerond"),
                           steps=joined(self.findings.label(s) for s in missing))
        if step == "stap3_gesprek" and data.get("gesprek_uitzondering") not in (None, "geen"):
            return N_("er is een uitzondering op het gesprek gekozen")
        if step == "stap4_wegen" and data.get("zorgen_weggenomen") is True:
            return N_("de zorgen zijn in het gesprek weggenomen")
        if step == "stap4_wegen" and "stap3_gesprek" not in done and \
                data.get("gesprek_uitzondering") in (None, "geen"):
            return Message(N_("eerst moet {steps} zijn afgerond"),
                           steps=self.findings.label("stap3_gesprek"))
        if (step == "stap5_beslissen" or step in MELDING_STEPS or step == HULP_ORGANISEREN) \
                and data.get("vermoeden") is False:
            return N_("er is geen vermoeden vastgesteld")
        return None

    def _exemption_rule(self, state: State, child: State, step: str, answers: dict) -> None:
        """An exemption (an enum `*_uitzondering` other than `geen`) needs a non-blank reason."""
        fields = {f.name: f for f in self.definition.steps[step].fields}
        for name, value in answers.items():
            if not name.endswith("uitzondering") or value in (None, "geen"):
                continue
            reason = fields.get(f"{name}_reden")
            label = self.findings.label(step)
            if reason is None:
                self.findings.add(step, "exemption", Message(N_(
                    "{step}: de uitzondering '{value}' vraagt geen reden (veld '{field}' "
                    "ontbreekt)"), step=label, value=value, field=f"{name}_reden"),
                    state, child.hop)
                continue
            for blank in ("   ", None):
                trial = {k: v for k, v in answers.items() if k != reason.name}
                if blank is not None:
                    trial[reason.name] = blank
                try:
                    forms.validate(list(fields.values()), trial, context=state.data)
                except forms.FormInvalid:
                    continue
                self.findings.add(step, "exemption", Message(N_(
                    "{step}: de uitzondering '{value}' wordt aanvaard zonder reden (leeg of "
                    "alleen spaties)"), step=label, value=value), state, {**(child.hop or {}),
                                          "data": {**(child.hop or {}).get("data", {}),
                                                   reason.name: blank or ""}})
                break

    def absorb_decisions(self, state: State, advance) -> None:
        """The decision tables' outputs of an advance into the state's data; a decision to
        melden (besluit_melden) owes one more melding."""
        for _step, outputs in advance.decisions:
            state.data.update(outputs)
            if outputs.get("besluit_melden") is True:
                m = state.monitor
                state.monitor = dataclasses.replace(m, pending=m.pending + 1, must_melden=True)

    def after_advance(self, state: State, workflow, advance) -> bool:
        """Rules on the state an advance reached. False: the route ends here."""
        ready = advance.ready
        steps = [t.task_spec.bpmn_id for t in ready]
        for step in sorted(set(steps)):
            # A task that only follows a melding (the terugkoppeling of Veilig Thuis, CONTRACT
            # section 5) is open once per melding made: twice after "opnieuw melden".
            once_per_melding = step in self._after_melding and \
                steps.count(step) <= state.monitor.meldingen
            if steps.count(step) > 1 and not once_per_melding:
                self.findings.add(step, "twice", Message(N_(
                    "{step} staat op deze route twee keer tegelijk open"),
                    step=self.findings.label(step)), state)
        if advance.completed:
            self._closing_rules(state, workflow)
            return False
        if not ready and not self._waiting_timer(workflow):
            waiting = [t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.WAITING)
                       if getattr(t.task_spec, "bpmn_id", None)]
            element = waiting[0] if waiting else (state.hop or {}).get("step")
            where = joined(self.findings.label(w) for w in waiting) or \
                self.findings.label(element)
            self.findings.add(element, "stall", Message(N_(
                "de route loopt vast bij {where}: de casus staat open zonder taak voor wie dan "
                "ook"), where=where), state)
            return False
        self._acute_rule(state, steps)
        return True

    def _waiting_timer(self, workflow) -> bool:
        """A timer waits: the scheduler will fire it, so the route goes on (not a stall)."""
        return any(isinstance(getattr(t.task_spec, "event_definition", None),
                              TimerEventDefinition)
                   for t in workflow.get_tasks(state=TaskState.WAITING))

    def _closing_rules(self, state: State, workflow) -> None:
        m = state.monitor
        end = self._end_event(workflow)
        label = self.findings.label(end)
        if m.igj:
            self.findings.add(end, "igj", Message(N_(
                "de route sluit bij {end} zonder {igj}, terwijl de vermoedelijke pleger een "
                "zorgverlener is"), end=label, igj=self.findings.label(MELDING_IGJ)), state)
        if not (MELDING_DOEN in m.done or HULP_ORGANISEREN in m.done or m.evidence):
            self.findings.add(end, "uitkomst", Message(N_(
                "de route eindigt bij {end} zonder uitkomst van de meldcode (geen melding, geen "
                "hulp, geen weggenomen zorgen en geen vastgesteld 'geen vermoeden')"), end=label),
                state)
            return
        if m.pending > 0:
            self.findings.add(end, "no_melding", Message(N_(
                "de route sluit bij {end} zonder de melding die de antwoorden vragen"),
                end=label), state)
        elif MELDING_DOEN not in m.done and m.must_melden:
            self.findings.add(end, "no_melding", Message(N_(
                "de route sluit bij {end} zonder melding terwijl tot melden is besloten of "
                "onveiligheid is vastgesteld"), end=label), state)
        geen_vermoeden = m.evidence == "gv" and not (
            MELDING_DOEN in m.done or HULP_ORGANISEREN in m.done)
        if geen_vermoeden and not m.talk:
            self.findings.add(end, "talk", Message(N_(
                "de route sluit bij {end} als 'geen vermoeden' zonder dat het gesprek met de "
                "cliënt over die conclusie is vastgelegd (of waarom het niet kon)"), end=label),
                state)

    def _end_event(self, workflow) -> str | None:
        ends = [t for t in workflow.get_tasks(state=TaskState.COMPLETED)
                if isinstance(t.task_spec, EndEvent)]
        if not ends:
            return None
        return max(ends, key=lambda t: t.last_state_change).task_spec.bpmn_id

    def _acute_rule(self, state: State, ready_steps: list[str]) -> None:
        """An acute melding never waits on a person other than the one making it."""
        if not state.monitor.acute or state.monitor.pending == 0:
            return
        if any(step in self._melding_reach for step in ready_steps):
            return
        if not ready_steps and state.timers:  # the route waits for a timer
            self.findings.add(state.timers[0][1], "acute_wait", Message(N_(
                "een acute melding wacht bij {element} tot een timer afgaat"),
                element=self.findings.label(state.timers[0][1])), state)
            return
        blocker = self._blocker(ready_steps)
        self.findings.add(blocker, "acute_wait", Message(N_(
            "een acute melding wacht bij {element} op iemand anders dan wie meldt"),
            element=self.findings.label(blocker)), state)

    def _blocker(self, ready_steps: list[str]) -> str | None:
        """The element an acute melding waits at: a task of another lane, or a join that such a
        task feeds, on the way from the ready steps to melding_doen (the first ready step when
        melding_doen itself lies in another lane or out of reach)."""
        d = self.diagram
        before_melding = self.diagram.backward(MELDING_DOEN)
        after_ready: set[str] = set()
        todo = list(ready_steps)
        while todo:
            node = todo.pop()
            if node in after_ready:
                continue
            after_ready.add(node)
            todo.extend(d.flows.get(node, []))
        foreign = {t for t in d.user_tasks if d.lanes.get(t, MEDEWERKER) != MEDEWERKER}
        suspects = (foreign | {j for j in d.joins if self.diagram.backward(j) & foreign}) & \
            before_melding & after_ready
        if d.lanes.get(MELDING_DOEN, MEDEWERKER) != MEDEWERKER:
            return MELDING_DOEN
        if suspects:
            return min(suspects, key=lambda n: d.lines.get(n, 0))
        return ready_steps[0] if ready_steps else None

    def _reaches(self, target: str) -> set[str]:
        """User tasks of the medewerker from which `target` is reached through medewerker tasks
        only, and through no join that a task of another lane feeds."""
        d = self.diagram
        foreign = {t for t in d.user_tasks if d.lanes.get(t, MEDEWERKER) != MEDEWERKER}
        blocked_joins = {j for j in d.joins if self.diagram.backward(j) & foreign}
        if d.lanes.get(target, MEDEWERKER) != MEDEWERKER:
            return set()
        good: set[str] = set()
        todo = [target]
        while todo:
            node = todo.pop()
            if node in good:
                continue
            good.add(node)
            for pred in d.preds.get(node, []):
                if pred in foreign or pred in blocked_joins:
                    continue
                todo.append(pred)
        return good & d.user_tasks


def _holds(expression: str, answers: dict) -> bool:
    """Whether `expression` holds over a step's answers; False when it cannot be evaluated
    (the answers do not hold the variable it reads)."""
    try:
        return bool(expressions.evaluate(expression, answers))
    except expressions.ExpressionError:
        return False
