"""The reminder to the owner's leidinggevende when a team member's task is more than five
working days overdue (issue 13 point 3, engine/reminders.py), as they read it: its own words,
on the Berichten page, in the API and in the e-mail, and a link to the case, which they may
read, never to the task, whose page is not theirs (403). Issue 13 break-it: they got the
reminder of the person who must act ("In de meldcode wacht een taak op u", "Naar de taak"),
whose link they could not open. The person who must act still gets their own reminder."""

import email
import email.policy
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from aiosmtpd.controller import Controller

from engine import cases, clock, consults, mail, reminders
from tests.conftest import free_port
from tests.helpers import Client, text, use_smtp

AMS = ZoneInfo("Europe/Amsterdam")
REMINDED_AT = datetime(2026, 12, 15, 12, 0, tzinfo=AMS)  # a Tuesday
ESCALATED_NL = "Een taak van een collega in uw team is meer dan 5 werkdagen over de termijn: "
ESCALATED_EN = "A task of a colleague in your team is more than 5 working days overdue: "
SECRETS = ("CLIENT-4711", "blauwe plekken", "moeder")


def overdue_case(people):
    """A case of mw (whose leidinggevende is lg) started on Monday 30 November 2026 with a
    consult to af; the reminders run at REMINDED_AT, when step 1 (due Monday 7 December) and
    the consult are both more than five working days overdue. Out: the case, step 1's task id
    and the consult's."""
    with clock.use(clock.ManualClock(datetime(2026, 11, 30, 9, 0, tzinfo=AMS))) as now:
        case = cases.start_case(people["mw"], {"client_ref": "CLIENT-4711",
                                               "reason": "blauwe plekken"})
        asked = consults.request(people["mw"], case["id"],
                                 {"user": "af", "question": "Hoe gaat het met de moeder?"})
        now.set(REMINDED_AT)
        assert reminders.send_reminders(now()) >= 4  # mw, af, and lg twice
    return case, case["tasks"][0], asked["task_id"]


def test_the_leidinggevende_reads_an_escalation_and_opens_the_case(ui_app, sqlite_people):
    case, step1, consult = overdue_case(sqlite_people)
    lg = Client(ui_app)
    lg.login("lg")
    page = text(lg.get("/berichten"))
    assert page.count(ESCALATED_NL) == 2  # step 1 and the consult
    assert f"{step1['name']} (casus {case['id']})." in page
    assert "Naar de taak" not in page
    assert f"/taken/{step1['id']}" not in page and f"/taken/{consult}" not in page
    assert f'href="/casussen/{case["id"]}"' in page
    for secret in SECRETS:
        assert secret not in page
    assert lg.get(f"/casussen/{case['id']}").status_code == 200
    # why no link to the task: its page is the person's who must act
    assert lg.get(f"/taken/{step1['id']}").status_code == 403
    assert lg.get(f"/taken/{consult}").status_code == 403

    # the person who must act: their reminder as before, with the link to the task
    mw = Client(ui_app)
    mw.login("mw")
    own = text(mw.get("/berichten"))
    assert f"De termijn van {step1['name']} (casus {case['id']}) is verstreken." in own
    assert f'href="/taken/{step1["id"]}"' in own and "Naar de taak" in own
    assert ESCALATED_NL not in own
    assert mw.get(f"/taken/{step1['id']}").status_code == 200


def test_the_api_words_the_escalation_in_the_documented_shape(ui_app, sqlite_people):
    case, step1, _consult = overdue_case(sqlite_people)
    api = ui_app.test_client()
    r = api.get("/api/v1/notifications",
                headers={**sqlite_people.auth("lg"), "Accept-Language": "en"})
    assert r.status_code == 200
    notes = r.get_json()
    assert {tuple(sorted(n)) for n in notes} == {
        ("at", "case_id", "id", "kind", "read", "task_id", "text")}
    assert [n["kind"] for n in notes] == ["task_overdue", "task_overdue"]
    assert all(n["text"].startswith(ESCALATED_EN) and n["case_id"] == case["id"]
               for n in notes)
    r = api.get("/api/v1/notifications", headers=sqlite_people.auth("mw"))
    [own] = [n for n in r.get_json() if n["task_id"] == step1["id"]]
    assert own["text"] == f"De termijn van {step1['name']} (casus {case['id']}) is verstreken."


class Inbox:
    """An aiosmtpd handler that keeps what it receives: (recipients, subject and body, its
    lines ending in a plain line feed)."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_content().replace("\r\n", "\n")
        self.messages.append((envelope.rcpt_tos, f"{message['Subject']}\n{body}"))
        return "250 OK"


def test_the_mail_to_the_leidinggevende_links_to_the_case_without_client_data(people,
                                                                               monkeypatch):
    port = free_port()
    use_smtp(monkeypatch, port, {"mw": "mw@zorg.example", "lg": "lg@zorg.example"})
    case, step1, consult = overdue_case(people)
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        for _ in range(5):  # BATCH mails per run
            if not mail.deliver_mail(REMINDED_AT.astimezone(UTC)):
                break
    finally:
        controller.stop()
    to_lg = [content for to, content in inbox.messages if to == ["lg@zorg.example"]]
    to_mw = [content for to, content in inbox.messages if to == ["mw@zorg.example"]]
    assert len(to_lg) == 2 and len(to_mw) == 1
    for content in to_lg:
        assert content.startswith("Meldcode: een taak in uw team is over de termijn (")
        assert "een taak van een collega in uw team meer dan 5 werkdagen over de termijn" in content
        assert f"https://meldcode.zorg.example/casussen/{case['id']}\n" in content
        assert "/taken/" not in content and "wacht een taak op u" not in content
        assert "Uiterlijk af: " in content
        for secret in SECRETS:
            assert secret not in content
    assert any(f"Stap: {step1['name']}\n" in content for content in to_lg)
    # the person who must act: the task's own reminder, unchanged
    [own] = to_mw
    assert own.startswith(f"Meldcode: de termijn van een taak is verstreken ({step1['name']})")
    assert "In de meldcode wacht een taak op u." in own
    assert f"https://meldcode.zorg.example/taken/{step1['id']}\n" in own
    assert "collega" not in own
    assert all(m["state"] == "sent" for m in mail.outbox())
