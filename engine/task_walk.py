"""The workflow class every case runs on: SpiffWorkflow's BpmnWorkflow with cheaper walks of
its task tree, giving the very same tasks in the very same order.

SpiffWorkflow walks the whole task tree several times per completion: `do_engine_steps` asks
`get_tasks(state=READY)` in a loop until nothing is left to run, and every completed task has
`update_waiting_tasks` visit the WAITING ones. Its iterators (`TaskIterator`,
`BpmnTaskIterator`) pop from the front of a list and track the depth of every task for their
`max_depth` limit, which this product sets beyond reach (MAX_TASK_DEPTH, set by adapter.py). On
the meldcode's task tree (about 47 tasks after a melding) those walks were a fifth of a
completion's CPU time (issue 13 point 7).

`MeldcodeWorkflow` overrides the two workflow methods SpiffWorkflow documents for this
(`get_tasks_iterator`, which `get_tasks` and `get_next_task` use, and `update_waiting_tasks`)
with a depth-first walk on a stack. It is lazy as SpiffWorkflow's iterators are: a task's
children are read when the task is taken from the stack, and the filter is asked after that,
so a caller that changes the tree while walking (update_waiting_tasks does) sees what it saw.
A walk asked for breadth first or with a depth limit goes to SpiffWorkflow's own iterator.
The stored state is the same as BpmnWorkflow's (engine/adapter.py registers the class under
SpiffWorkflow's type name), so older states load into it and replay arrives at the same ids.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.util.task import BpmnTaskFilter
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskFilter, TaskState

# Deep enough for any case: a task iterator stops at this depth, and every completed step adds
# one. engine/adapter.py makes it SpiffWorkflow's iterators' default max_depth.
MAX_TASK_DEPTH = 10**9


def _min_state(wanted: int) -> int:
    """The lowest state whose children a walk for tasks in `wanted` still visits: as
    SpiffWorkflow's TaskIterator (predicted tasks only follow definite ones, definite tasks
    only finished ones)."""
    if wanted & TaskState.PREDICTED_MASK:
        return TaskState.MAYBE
    if wanted & TaskState.DEFINITE_MASK:
        return TaskState.FUTURE
    return TaskState.COMPLETED


def walk(first: Task, task_filter: TaskFilter, end_at_spec: str | None = None,
         subprocesses: dict | None = None, skip_subprocesses: bool = False) -> Iterator[Task]:
    """The tasks under `first` (itself included) that `task_filter` matches, depth first in
    SpiffWorkflow's order: what TaskIterator (subprocesses None) or BpmnTaskIterator
    (`subprocesses` the top workflow's map of task id to subprocess) yield with no depth
    limit. A task named `end_at_spec` is yielded but not descended into. Raises nothing of
    its own; a tree whose child ids name no task fails as SpiffWorkflow's walk does."""
    min_state, wanted = _min_state(task_filter.state), task_filter.state
    matches = task_filter.matches
    stack = [first]
    pop, extend = stack.pop, stack.extend
    while stack:
        task = pop()
        state = task.state
        sub = None if subprocesses is None else subprocesses.get(task.id)
        # _children: the ids, read without building the list of Task objects for a leaf
        parent = bool(task._children) or sub is not None  # noqa: SLF001
        if parent and (state >= min_state or sub is not None) and task.task_spec.name != end_at_spec:
            children = task.children
            # BpmnTaskIterator: a finished subprocess is not entered to look for open tasks
            if sub is not None and not skip_subprocesses and not (
                    state >= TaskState.FINISHED_MASK and wanted <= TaskState.FINISHED_MASK):
                children = [sub.task_tree, *children]
            extend(reversed(children))
        if state & wanted and matches(task):
            yield task


class MeldcodeWorkflow(BpmnWorkflow):
    """BpmnWorkflow with the walks above; behaves and serialises as BpmnWorkflow."""

    def get_tasks_iterator(self, first_task: Task | None = None, **kwargs: Any) -> Iterator[Task]:
        """As BpmnWorkflow.get_tasks_iterator (the same keyword arguments, the same tasks in
        the same order), a stack walk unless breadth first or a depth limit is asked."""
        if not kwargs.get("depth_first", True) or kwargs.get("max_depth", MAX_TASK_DEPTH) < MAX_TASK_DEPTH:
            return super().get_tasks_iterator(first_task, **kwargs)
        end_at_spec = kwargs.pop("end_at_spec", None)
        skip_subprocesses = kwargs.pop("skip_subprocesses", False)
        kwargs.pop("depth_first", None)
        kwargs.pop("max_depth", None)
        task_filter = kwargs.pop("task_filter", None) or BpmnTaskFilter(**kwargs)
        return walk(first_task or self.task_tree, task_filter, end_at_spec,
                    self.subprocesses, skip_subprocesses)

    def update_waiting_tasks(self) -> None:
        """As Workflow.update_waiting_tasks: let every WAITING task's spec update it, walking
        the tree as TaskIterator does (not into subprocesses)."""
        for task in walk(self.task_tree, TaskFilter(state=TaskState.WAITING)):
            task.task_spec._update(task)  # noqa: SLF001 - as SpiffWorkflow's own method does
