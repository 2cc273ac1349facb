"""An advance that passes elements more often than any diagram without a flow cycle needs
stops with the engine's own message (engine/driving.EndlessLoop): it is worded from the
catalogues like every other refusal, so an English reader of the 409 reads English (issue 12
point 4; before, it was a plain Dutch str). meldcode check refuses diagrams that loop without
a user task, so the limit is lowered here to reach the message on the shipped diagram."""

from __future__ import annotations

import pytest
from flask_babel import force_locale

from engine import adapter, definitions, driving
from engine.messages import Message
from webui import create_app
from webui.texts import translate


def test_an_endless_loop_is_refused_in_the_readers_language(monkeypatch):
    monkeypatch.setattr(driving, "MAX_PASSES_PER_ELEMENT", 0)
    files = definitions.shipped_files()
    definition = definitions.cached(definitions.set_sha256(files), lambda: files)
    with pytest.raises(driving.EngineFailure) as caught:
        driving.start_workflow(definition, adapter.IdSource(1))
    message = caught.value.args[0]
    assert isinstance(message, Message) and isinstance(message.params["why"], Message)
    assert "wordt steeds opnieuw doorlopen zonder gebruikerstaak" in message
    with create_app({"TESTING": True}).app_context(), force_locale("en"):
        english = translate(message)
    assert english.startswith("The process cannot continue: '")
    assert "is passed again and again without a user task: a loop in the diagram" in english
    assert "wordt" not in english
