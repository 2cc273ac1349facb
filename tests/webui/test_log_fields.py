"""The JSON log keeps what the engine's modules pass as `extra` (the standard library's way):
the planner's count of fired timers, the outbox's item and the kind of a mail error."""

import json
import logging


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_extra_fields_of_engine_log_records_are_fields_of_the_json_line(capsys):
    from webui import observability

    observability.configure_logging()
    logging.getLogger("engine.scheduler").info("timers fired", extra={"cases": 7})
    logging.getLogger("engine.mail").warning("mail not sent",
                                             extra={"outbox_id": 12, "error": "SMTPException"})
    lines = _lines(capsys.readouterr().err)
    fired = next(line for line in lines if line["event"] == "timers fired")
    assert fired["cases"] == 7 and fired["logger"] == "engine.scheduler"
    mail = next(line for line in lines if line["event"] == "mail not sent")
    assert mail["outbox_id"] == 12 and mail["error"] == "SMTPException"
    assert mail["level"] == "warning"
    # Only the extra fields are added, not the record's own attributes.
    assert not {"msg", "args", "lineno", "pathname", "thread"} & set(mail)
