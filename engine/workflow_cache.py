"""The workflows this process wrote last, kept so the next step of a case skips
deserialising the state it just stored (engine/tasks.py, cases.py and scheduler.py put and
take them around their commits)."""

from __future__ import annotations

import threading
from collections import OrderedDict

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow


class WorkflowCache:
    """Recently written workflows of this process, keyed by case and version.

    When the next step of a case reaches the worker that stored the last one (always with one
    worker process, about one request in N with N of them), it skips deserialising the state
    it just wrote (~1 ms). An entry is taken out while a command works on it and put back only
    after that command committed, under the version it committed; a stale or failed entry is
    never used, nor one whose state bytes are no longer those stored in the case row (changed
    in the database, the version left as it was): that state is loaded, and refused when it
    does not load, whichever worker the request reaches (issue 11). A comparison of bytes
    (~10 KiB, equal objects compared with memcmp) costs well under a microsecond.
    """

    # ~50 KiB per workflow of the shipped meldcode: 500 keep a worker under ~25 MiB, and
    # 2 × cores + 1 workers each have their own.
    def __init__(self, size: int = 500):
        self.size = size
        self.entries: OrderedDict[tuple[str, int], tuple[int, bytes, BpmnWorkflow]] = OrderedDict()
        self.lock = threading.Lock()

    def take(self, key: tuple[str, int], version_id: int, state: bytes) -> BpmnWorkflow | None:
        """Take out the workflow of `key` (database URL, case id) if it was stored at
        `version_id` (the case row's version) as `state` (the row's workflow_state, as read);
        None otherwise. The entry is gone either way."""
        with self.lock:
            entry = self.entries.pop(key, None)
        if entry is None or entry[0] != version_id or entry[1] != state:
            return None
        return entry[2]

    def put(self, key: tuple[str, int], version_id: int, workflow: BpmnWorkflow,
            state: bytes) -> None:
        """Keep `workflow` as the state of `key` at `version_id`, stored as `state` (the bytes
        the command wrote), after the command that wrote it committed; the least recently
        stored entry goes when the cache is full."""
        with self.lock:
            self.entries[key] = (version_id, state, workflow)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)


# This worker's cache: tasks.complete_task takes a workflow out and puts it back after the commit.
CACHE = WorkflowCache()
take, put = CACHE.take, CACHE.put
