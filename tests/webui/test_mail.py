"""Notification e-mail through a real SMTP server (aiosmtpd, started here), on SQLite and
PostgreSQL: what arrives (the step, the link; no client data), retries when the server
fails, giving up after the last attempt, and requests that never wait on mail."""

import email
import email.policy
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller

from engine import clock, config, mail, scheduler, store, users
from tests.conftest import free_port
from tests.helpers import use_smtp, verify


class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.rcpt_tos, f"{message['Subject']}\n{message.get_content()}"))
        return "250 OK"


@pytest.fixture
def smtp_port():
    return free_port()


@pytest.fixture
def mail_env(monkeypatch, smtp_port, people):
    use_smtp(monkeypatch, smtp_port, {"af": "af@zorg.example", "lg": "lg@zorg.example"})
    assert config.current().smtp_url


def server(port, inbox):
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller


def ask(client, people, case_id, who="af", question="Mag ik u iets vragen over de moeder?"):
    r = client.post(f"/api/v1/cases/{case_id}/consults", headers=people.auth("mw"),
                    json={"user": who, "question": question})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def start(client, people):
    r = client.post("/api/v1/cases", headers=people.auth("mw"),
                    json={"client_ref": "CLIENT-4711", "reason": "blauwe plekken"})
    assert r.status_code == 201
    return r.get_json()


def test_the_mail_arrives_with_the_step_and_link_only(client, people, mail_env, smtp_port):
    case = start(client, people)
    consult = ask(client, people, case["id"])
    inbox = Inbox()
    controller = server(smtp_port, inbox)
    try:
        assert mail.deliver_mail(clock.now()) == 1
    finally:
        controller.stop()
    [(to, content)] = inbox.messages
    assert to == ["af@zorg.example"]
    assert "Vraag van mw" in content
    assert f"https://meldcode.zorg.example/taken/{consult['task_id']}" in content
    for secret in ("CLIENT-4711", "blauwe plekken", "moeder"):
        assert secret not in content
    assert [m["state"] for m in mail.outbox()] == ["sent"]
    assert mail.deliver_mail(clock.now()) == 0  # sent once
    assert verify(case["id"])[case["id"]].ok


def test_no_address_or_no_smtp_no_mail(client, people, monkeypatch):
    case = start(client, people)
    ask(client, people, case["id"])  # af has no address
    assert mail.outbox() == []
    with store.unit_of_work(write=True) as session:
        users.set_email(session, "af", "af@zorg.example")
    ask(client, people, case["id"], question="Nog een vraag?")  # no MELDCODE_SMTP_URL
    assert mail.outbox() == []
    assert mail.deliver_mail(clock.now()) == 0


def test_a_failing_server_is_tried_again_later_and_given_up(client, people, mail_env, smtp_port,
                                                             caplog):
    case = start(client, people)
    consult = ask(client, people, case["id"])  # nobody listens on the SMTP port: still 201
    at = clock.now()
    scheduler.run_periodic(at)  # the worker's job: the failure is not raised
    [item] = mail.outbox()
    assert item["state"] == "pending" and item["attempts"] == 1
    assert item["next_attempt_at"] >= at + mail.FIRST_RETRY
    assert mail.deliver_mail(at + timedelta(seconds=30)) == 0  # not before its time
    assert mail.outbox()[0]["attempts"] == 1

    # answering the consult completes a task while the mail server is still down: 200
    r = client.post(f"/api/v1/tasks/{consult['task_id']}/complete", headers=people.auth("af"),
                    json={"data": {"antwoord": "Ja."}})
    assert r.status_code == 200

    inbox = Inbox()
    controller = server(smtp_port, inbox)
    try:
        assert mail.deliver_mail(at + timedelta(minutes=2)) == 1
    finally:
        controller.stop()
    assert len(inbox.messages) == 1 and mail.outbox()[0]["state"] == "sent"

    # a mail that keeps failing is given up after the last attempt, with a log line
    ask(client, people, case["id"], question="Tweede vraag")
    when = at + timedelta(minutes=3)
    for _ in range(mail.MAX_ATTEMPTS):
        mail.deliver_mail(when)
        when += timedelta(days=1)
    last = mail.outbox()[-1]
    assert last["state"] == "failed" and last["attempts"] == mail.MAX_ATTEMPTS
    assert "mail given up" in caplog.text
    assert mail.deliver_mail(when) == 0
