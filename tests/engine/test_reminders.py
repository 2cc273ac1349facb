"""Reminders with an injected clock (CONTRACT section 5, issue 13 point 3), on SQLite and
PostgreSQL: task_due the day before a task is due (Dutch calendar day), task_overdue after,
each once, to the person who must act; the owner's leidinggevende after more than five
working days overdue; a consult reminds the person consulted."""

from datetime import datetime
from zoneinfo import ZoneInfo

from engine import cases, clock, consults, notifications, reminders, scheduler

AMS = ZoneInfo("Europe/Amsterdam")


def local(*args):
    return datetime(*args, tzinfo=AMS)


def reminders_of(who):
    return sorted((n["kind"], n["task_id"]) for n in notifications.listing(who)
                  if n["kind"] in ("task_due", "task_overdue"))


def test_due_tomorrow_overdue_and_escalation(people, monkeypatch):
    monkeypatch.setattr(scheduler, "_reminded", None)  # the worker's last round: none yet
    with clock.use(clock.ManualClock(local(2026, 11, 30, 9, 0))) as now:  # a Monday
        case = cases.start_case(people["mw"], {"client_ref": "C-termijn"})
        step1 = case["tasks"][0]
        asked = consults.request(people["mw"], case["id"], {"user": "af", "question": "?"})
        assert reminders.send_reminders(now()) == 0  # nothing due tomorrow yet

        now.set(local(2026, 12, 1, 10, 0))  # the consult is due Wednesday 2 December
        assert reminders.send_reminders(now()) == 1
        assert reminders_of(people["af"]) == [("task_due", asked["task_id"])]

        now.set(local(2026, 12, 4, 22, 0))  # Friday: step 1 is due Monday 7 December
        reminders.send_reminders(now())
        assert reminders_of(people["mw"]) == []
        now.set(local(2026, 12, 6, 0, 30))  # Sunday (Saturday evening in UTC): due tomorrow
        reminders.send_reminders(now())
        assert reminders_of(people["mw"]) == [("task_due", step1["id"])]
        assert reminders.send_reminders(now()) == 0  # once per task and kind

        now.set(local(2026, 12, 8, 0, 1))  # just past 23:59 on the 7th: overdue
        reminders.send_reminders(now())
        assert reminders_of(people["mw"]) == sorted([("task_due", step1["id"]),
                                                     ("task_overdue", step1["id"])])
        assert ("task_overdue", step1["id"]) not in reminders_of(people["lg"])

        now.set(local(2026, 12, 14, 12, 0))  # five working days overdue: not yet more
        reminders.send_reminders(now())
        assert ("task_overdue", step1["id"]) not in reminders_of(people["lg"])
        now.set(local(2026, 12, 15, 12, 0))  # six: the owner's leidinggevende is told
        scheduler.run_periodic(now())  # as the worker runs it
        assert ("task_overdue", step1["id"]) in reminders_of(people["lg"])
        assert reminders_of(people["mw2"]) == []
        texts = [n for n in notifications.listing(people["lg"]) if n["kind"] == "task_overdue"]
        assert texts[0]["params"] == {"step": step1["name"], "case": case["id"],
                                      "escalated": True}


def test_the_escalation_is_marked_and_the_one_who_acts_gets_a_plain_reminder(people):
    """The leidinggevende's reminder of a team member's task (a medewerker's step, a consult
    to an aandachtsfunctionaris) is an escalation; a consult to the leidinggevende is theirs
    to answer: an ordinary reminder, no escalation of it."""
    with clock.use(clock.ManualClock(local(2026, 11, 30, 9, 0))) as now:
        case = cases.start_case(people["mw"], {"client_ref": "C-escalatie"})
        step1 = case["tasks"][0]["id"]
        to_af = consults.request(people["mw"], case["id"], {"user": "af", "question": "?"})
        to_lg = consults.request(people["mw"], case["id"], {"user": "lg", "question": "?"})
        now.set(local(2026, 12, 15, 12, 0))  # all three more than five working days overdue
        reminders.send_reminders(now())

    def overdue(who):
        return {n["task_id"]: n["params"] for n in notifications.listing(people[who])
                if n["kind"] == "task_overdue"}

    lg = overdue("lg")
    assert set(lg) == {step1, to_af["task_id"], to_lg["task_id"]}
    assert lg[step1]["escalated"] is True and lg[to_af["task_id"]]["escalated"] is True
    assert "escalated" not in lg[to_lg["task_id"]]
    assert list(overdue("mw")) == [step1] and list(overdue("af")) == [to_af["task_id"]]
    assert "escalated" not in overdue("mw")[step1]
    assert "escalated" not in overdue("af")[to_af["task_id"]]
