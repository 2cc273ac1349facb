"""Form fields of type "multi" (CONTRACT section 5): several options of one question chosen at
once, e.g. the forms of violence of stap 1 (`geweldsvormen`). The value is a list of option
values; engine.forms reads such a field from the diagram (camunda type "multi" with
camunda:value options, like an enum) and validates it here.

Also the value a field has when it is left unanswered (`default_of`, `defaults_of`): [] for a
multi field, a boolean's camunda defaultValue. Every completion carries it (engine.forms.validate
for the API, web form and command line; engine.driving.complete_in_workflow for whatever
completes a task in a workflow directly), so a condition such as `"vgv" in geweldsvormen` never
meets an unknown variable; a case moved to a version that added such a field gets it too
(`answer_defaults`, engine.migration).
"""

from __future__ import annotations

import copy
from typing import Any

from SpiffWorkflow.camunda.specs.user_task import UserTask
from SpiffWorkflow.util.task import TaskState

from .messages import N_, Message


def convert_multi(field: Any, value: Any, from_web: bool) -> list[str]:
    """A submitted answer to a multi field (an engine.forms.Field) as it is recorded: the
    chosen option values in the form's order.

    In: a list of option values (JSON); from an HTML form also one value as text (one box
    ticked). Out: the list, each value once, in the order of the field's options.
    Raises ValueError with a Dutch message that names what is wrong (CONTRACT section 5, a
    field of type "multi": "a list of option values"): not a list, a list longer than the
    field has options (so some value is in it twice, or is no option), not texts, a value that
    is not one of the options, or a value chosen twice.
    """
    allowed = [o.value for o in field.options]
    if from_web and isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ValueError(Message(N_("Geef een lijst van keuzes uit: {options}."),
                                 options=", ".join(allowed)))
    if len(value) > len(allowed):  # told by its length alone: nothing in it is looked at
        raise ValueError(Message(N_(
            "Te veel keuzes: deze vraag heeft {count} keuzes en elke keuze mag maar één keer in "
            "de lijst staan; de lijst heeft er {given}."), count=len(allowed), given=len(value)))
    if not all(isinstance(v, str) for v in value):
        raise ValueError(Message(N_("Geef een lijst van keuzes uit: {options}."),
                                 options=", ".join(allowed)))
    unknown = [v for v in value if v not in allowed]
    if unknown:
        raise ValueError(Message(N_("Onbekende keuze {values}; kies uit: {options}."),
                                 values=", ".join(repr(v[:40]) for v in unknown[:5]),
                                 options=", ".join(allowed)))
    twice = sorted({v for v in value if value.count(v) > 1}, key=allowed.index)
    if twice:
        raise ValueError(Message(N_("Elke keuze mag maar één keer in de lijst staan: {values}."),
                                 values=", ".join(twice)))
    return [v for v in allowed if v in value]


def default_of(kind: str, text: str | None) -> Any:
    """A field's value when it is left unanswered (engine.forms.Field.default).

    In: the field's type (camunda's: "multi", "boolean", ...) and its camunda defaultValue
    (text or None). Out: () for a multi field (recorded as []), True/False for a boolean whose
    defaultValue is "true"/"false", else None (nothing is recorded). Raises nothing.
    """
    if kind == "multi":
        return ()
    if kind == "boolean" and (text or "").strip().lower() in ("true", "false"):
        return (text or "").strip().lower() == "true"
    return None


def defaults_of(task_spec: Any) -> dict[str, Any]:
    """The values the fields of a user task's form (camunda:formData, as SpiffWorkflow parsed
    it) have when unanswered: {field id: value} for each field with a default (default_of), a
    new list for each multi field; none for a field with a shown_when (on some cases' forms
    only), nor for a multi field with a required_when (asked on some completions only:
    engine.forms.validate records its [] where it is asked; a question not asked is not
    given, issue 14 F1). A task without a form: {}. Raises nothing."""
    out: dict[str, Any] = {}
    for f in getattr(getattr(task_spec, "form", None), "fields", None) or []:
        if f.get_property("shown_when"):
            # only on some cases' forms (a KNMG point): engine.forms.validate records its
            # default where it is on the form; here, for every case, it would put an answer
            # into the workflow of a case whose form never asked it, which its recorded
            # completion (and so replay) does not hold
            continue
        if f.type == "multi" and f.get_property("required_when"):
            continue
        value = default_of(f.type, getattr(f, "default_value", None))
        if value is not None:
            out[f.id] = list(value) if isinstance(value, tuple) else value
    return out


def answer_defaults(workflow: Any, case_file_key: str) -> None:
    """Fields a workflow's (new) version has on user tasks the case already completed, and
    that the case never answered (a field added since, such as geweldsvormen), take their
    default (defaults_of) in every task that is ready or waiting and in the case file (workflow.data
    [case_file_key]["answers"], when there is one), as a completion on that version would have
    given them: else the first gateway reading one stops the case with an unknown variable.
    Used when a case moves to another version (engine.migration.move_workflow). Only what is
    missing is added, from the workflow alone, so replay's run of the move arrives at the same
    state, and a move that adds nothing is as before. In: a SpiffWorkflow BpmnWorkflow,
    changed in place. Raises nothing."""
    parts = (workflow, *workflow.subprocesses.values())
    defaults: dict[str, Any] = {}
    for part in parts:
        for task in part.get_tasks(state=TaskState.COMPLETED, skip_subprocesses=True):
            if isinstance(task.task_spec, UserTask):
                for name, value in defaults_of(task.task_spec).items():
                    defaults.setdefault(name, value)
    if not defaults:
        return
    case_file = workflow.data.get(case_file_key)
    if isinstance(case_file, dict) and isinstance(case_file.get("answers"), dict):
        for name, value in defaults.items():
            case_file["answers"].setdefault(name, copy.deepcopy(value))
    for part in parts:  # (a task not reached yet takes its parent's data when it is)
        for task in part.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED,
                                   skip_subprocesses=True):
            for name, value in defaults.items():
                if name not in task.data:
                    task.data[name] = copy.deepcopy(value)
