"""Two procesbeheerders activating versions at the same moment: they take turns, and one
version is active afterwards (engine/versions.py activate). On PostgreSQL each read the other's
version as inactive and switched off only the one it had read as active: two versions stayed
active, and starting a case then failed."""

from __future__ import annotations

import threading

from sqlalchemy import select

from engine import audit, models, store, versions
from tests.helpers import renamed_files, store_version


def test_two_activations_at_once_leave_one_version_active(people, db_url, monkeypatch):
    two = store_version(renamed_files("stap1_signalen", "stap1_signalen_b"), monkeypatch,
                        active=False)
    three = store_version(renamed_files("stap1_signalen", "stap1_signalen_c"), monkeypatch,
                          active=False)
    failures: list[BaseException] = []

    def second() -> None:
        try:
            with store.unit_of_work(write=True) as session:
                versions.activate(session, three, by="pb2")
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)

    with store.unit_of_work(write=True) as session:
        assert versions.activate(session, two, by="pb1")
        session.flush()
        other = threading.Thread(target=second)
        other.start()
        other.join(0.5)  # the second activation is under way while the first is not committed
    other.join(60)
    assert not failures, failures
    with store.unit_of_work() as session:
        active = list(session.scalars(select(models.ProcessVersion.version)
                                      .where(models.ProcessVersion.active.is_(True))))
        lines = [line for line in audit.admin_log(session)
                 if line["action"] == "process_activated"]
    assert active == [three]
    assert [line["detail"]["version"] for line in lines][-2:] in ([two, three], [three, two])
