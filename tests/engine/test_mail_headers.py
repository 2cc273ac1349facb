"""A task's name comes from the diagram, where a name may hold a line break (&#10;); a mail
about that task is still made, with its subject on one line and no header of the name's making
(issue 13 break-it: the subject raised ValueError, the mail was never sent nor given up)."""

from engine import mail


def test_a_step_name_with_line_breaks_makes_a_one_line_subject():
    item = {"address": "lg@example.org", "kind": "task_ready", "task_id": "t-1",
            "step": "Afstemmen\r\nBcc: buiten@example.org\n", "due_at": None}
    made = mail.message(item, "meldcode@example.org", "https://meldcode.example.org")
    assert made["Subject"] == ("Meldcode: er wacht een taak op u "
                               "(Afstemmen Bcc: buiten@example.org)")
    assert made["Bcc"] is None
    assert "\r\nBcc:" not in made.as_string() and "\nBcc:" not in made.as_string()
