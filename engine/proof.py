"""The proof of every route: a process version explored in memory before it is published.

`prove(definition)` drives the version with the real engine (engine.driving's start and
completion), the real forms (engine.forms.validate) and the real decision tables, over every
value of every variable that a gateway condition, a decision table or a form condition reads,
and over every order in which ready tasks can be completed. States that agree on the tokens
(the marking), on the routed answers and on what the meldcode rules remember are explored once,
so orders of parallel tasks that do not affect each other fold together and loops end.

Two kinds of rule are checked on every route (DESIGN.md, "Proof before publish"):
- soundness of the workflow net (van der Aalst): no route stalls (open, no ready user task, no
  timer that the product fires), crashes or loops without a user task; every end carries an
  `uitkomst` that the route justifies; no user task is ready twice at once;
- the meldcode's own rules (CONTRACT sections 1 and 5): the contract steps in order, one
  melding per trigger, no close without a melding while `besluit_melden` is true or acute or
  structural unsafety was answered yes, a `geen_vermoeden` close only with the talk with the
  client recorded (or a reason why not), an exemption only with a non-blank reason, and an
  acute melding never waiting on anyone but the person making it.

Each problem is reported once per element and rule, at the element where the route goes wrong,
with the shortest witness route found (breadth first): the steps and the answers given.

Where: engine.proof_diagram reads the diagram (lines, graph, routed and live variables) and
keeps the findings; engine.proof_explorer searches the states; engine.proof_rules holds the
rules and what a route remembers for them.
"""

from __future__ import annotations

import threading

from . import proof_cache
from .problems import Problem
from .proof_diagram import Findings, read_diagram
from .proof_explorer import Explorer, Statistics


def prove(definition) -> list[Problem]:
    """Explore every route of a parsed, statically valid process version.

    In: an engine.definitions.ProcessDefinition. Out: the problems found, sorted by line, each
    with a witness route (Problem.path); empty when every route is sound and keeps the
    meldcode's rules. Never raises for a fault of the diagram: an engine error on a route is a
    problem of that route. Rules: CONTRACT sections 1 and 5, DESIGN.md "Proof before publish".
    """
    from .forms import today

    key = (definition.sha256, today())  # a date field is answered with today (proof_cache)
    with _proved_lock:
        known = _proved.get(key)
    if known is not None:
        return list(known)
    problems = proof_cache.lookup(definition.files)  # proved by another process before
    if problems is None:
        problems, stats = explore(definition)
        if not stats.limited:  # a CPU-time limit may fall otherwise on another run
            proof_cache.store(definition.files, problems)
    with _proved_lock:
        _proved[key] = tuple(problems)
        while len(_proved) > 64:
            _proved.pop(next(iter(_proved)))
    return problems


# Verdicts by file-set SHA-256 and day: a set is proved once per process and day (every test database deploys
# the shipped set; a deploy of a checked set checks it again); engine/proof_cache.py keeps them
# for the other processes.
_proved: dict[tuple, tuple[Problem, ...]] = {}
_proved_lock = threading.Lock()


def explore(definition) -> tuple[list[Problem], Statistics]:
    """As `prove`, with the search's figures (states, transitions, seconds) for the benchmark."""
    from . import driving

    diagram = read_diagram(definition)
    if diagram is None:
        return [], Statistics()
    findings = Findings(diagram)
    explorer = Explorer(definition, diagram, findings, driving)
    stats = explorer.run()
    return sorted(findings.found.values()), stats
