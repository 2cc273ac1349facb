"""The proof's verdicts kept on disk (engine/proof_cache.py): a file set is proved once for
every process of the user, the verdict read back is the one the proof gives (problems, lines,
Dutch messages with their templates, witness routes), and anything doubtful proves anew: a
damaged or foreign file, other code, other proof limits, a verdict cut short by the limit, the
cache switched off, a folder that cannot be written."""

from __future__ import annotations

import json
import subprocess
from types import SimpleNamespace

import pytest
from lxml import etree

from engine import definitions, proof, proof_cache, proof_explorer
from engine.definitions import SourceFile
from tests.conftest import ROOT

BPMN = (ROOT / "processes" / "meldcode.bpmn").read_bytes()
DMN = (ROOT / "processes" / "afwegingskader.dmn").read_bytes()
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}


def faulty(name: str = "meldcode.bpmn") -> list[SourceFile]:
    """The shipped set with issue 10's planted fault: failed help starts a second melding."""
    root = etree.fromstring(BPMN)
    [condition] = root.xpath("//bpmn:sequenceFlow[@id='sf_hulp_sluit_aan']"
                             "/bpmn:conditionExpression", namespaces=NS)
    condition.text = "hulp_effectief == False and meldingen_gedaan == 99"
    content = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return [SourceFile(name, content), SourceFile("afwegingskader.dmn", DMN)]


def definition_of(files):
    definition, problems = definitions.check(files, prove=False)
    assert definition is not None, [str(p) for p in problems]
    return definition


def shown(problems) -> list:
    """Everything of a verdict a person or the API sees, and the Dutch templates behind it."""
    return [(str(p), p.as_dict(), p.witness_lines(), getattr(p.message, "template", None),
             repr(getattr(p.message, "params", None))) for p in problems]


@pytest.fixture(scope="module")
def proved():
    """The faulty set's definition and its verdict as the proof itself gives it, once."""
    definition = definition_of(faulty())
    problems, _stats = proof.explore(definition)
    return definition, problems


@pytest.fixture
def cache(tmp_path, monkeypatch, proved):
    """An empty verdict folder of this test, the per-process verdicts forgotten, and every run
    of the proof counted: a run gives the verdict the proof gave once for this module (the
    proof itself is test_proof's; here it is whether it runs)."""
    folder = tmp_path / "proofs"
    monkeypatch.setenv("MELDCODE_PROOF_CACHE", str(folder))
    monkeypatch.setattr(proof, "_proved", {})
    runs = []
    limits = (proof_explorer.MAX_STATES, proof_explorer.MAX_SECONDS)

    def counted(definition):
        runs.append(definition.sha256)
        if definition.files == proved[0].files and limits == (proof_explorer.MAX_STATES,
                                                              proof_explorer.MAX_SECONDS):
            return list(proved[1]), proof_explorer.Statistics()
        return real_explore(definition)

    monkeypatch.setattr(proof, "explore", counted)
    return SimpleNamespace(folder=folder, runs=runs)


real_explore = proof.explore


def again(monkeypatch) -> None:
    """As a new process: nothing of this one's verdicts remembered."""
    monkeypatch.setattr(proof, "_proved", {})


def test_a_verdict_is_proved_once_and_read_back_as_the_proof_gave_it(cache, monkeypatch, proved):
    definition = definition_of(faulty())
    first = proof.prove(definition)
    assert shown(first) == shown(proved[1])
    assert any("vaker afgerond" in str(p) for p in first), [str(p) for p in first]
    assert any(p.path for p in first)  # witness routes, with answers, are part of it
    assert len(list(cache.folder.glob("*.json"))) == 1
    again(monkeypatch)
    second = proof.prove(definition)
    assert cache.runs == [definition.sha256]  # the second process did not prove
    assert shown(second) == shown(first)
    assert [p.path for p in second] == [p.path for p in first]


def test_the_command_line_proves_a_set_once_across_processes(tmp_path):
    env = {"MELDCODE_PROOF_CACHE": str(tmp_path / "proofs"), "MELDCODE_INSTANCE": str(tmp_path / "i"),
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    for source in faulty():
        (tmp_path / source.name).write_bytes(source.content)
    command = [str(ROOT / ".venv" / "bin" / "meldcode"), "check",
               str(tmp_path / "meldcode.bpmn"), str(tmp_path / "afwegingskader.dmn")]
    runs = [subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
            for _ in range(2)]
    assert runs[0].returncode == runs[1].returncode == 1, runs[0].stderr
    assert "vaker afgerond" in runs[0].stdout + runs[0].stderr
    assert (runs[1].stdout, runs[1].stderr) == (runs[0].stdout, runs[0].stderr)
    assert len(list((tmp_path / "proofs").glob("*.json"))) == 1


DAMAGE = {
    "truncated": lambda raw: raw[: len(raw) // 2],
    "no JSON": lambda raw: b"\x00\xff not json",
    "another verdict, old checksum": lambda raw: raw.replace(b'"problems": [', b'"problems": [] , "x": [', 1),
    "no problems claimed, old checksum": lambda raw: json.dumps(
        {**json.loads(raw), "body": {**json.loads(raw)["body"], "problems": []}}).encode(),
    "an unknown stored value": lambda raw: _resealed(raw, lambda body: {
        **body, "problems": [{"file": "x", "line": 1, "message": {"q": 1}, "path": []}]}),
    "a line that is no number": lambda raw: _resealed(raw, lambda body: {
        **body, "problems": [{"file": "x", "line": "1", "message": "m", "path": []}]}),
    "another key's verdict": lambda raw: _resealed(raw, lambda body: {**body, "key": "0" * 64}),
    # a template str.format would read attributes through, shown by check (the tester's)
    "a template reading attributes": lambda raw: _resealed(raw, lambda body: {
        **body, "problems": [{"file": "x", "line": 1, "path": [],
                              "message": {"m": "{x.__class__.__mro__}", "p": {"x": "a"}}}]}),
    "a witness route of no steps": lambda raw: _resealed(raw, lambda body: {
        **body, "problems": [{"file": "x", "line": 1, "message": "m",
                              "path": [5, None, {"d": {"step": 3, "data": 7}}]}]}),
    "a line beyond any file": lambda raw: _resealed(raw, lambda body: {
        **body, "problems": [{"file": "x", "line": 10**4000, "message": "m", "path": []}]}),
    "a file name with a line break": lambda raw: _resealed(raw, lambda body: {
        **body, "problems": [{"file": "a\nb", "line": 1, "message": "m", "path": []}]}),
    "a number beyond any float": lambda raw: raw.replace(b'"line": ', b'"line": 1e400, "x": ', 1),
}


def _resealed(raw: bytes, change) -> bytes:
    """A stored file changed and given a matching checksum: the shape is still checked."""
    body = change(json.loads(raw)["body"])
    return json.dumps({"body": body, "check": proof_cache._checksum(body)}).encode()  # noqa: SLF001


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_stored_verdict_is_proved_anew(cache, monkeypatch, damage):
    definition = definition_of(faulty())
    truth = shown(proof.prove(definition))
    [stored] = cache.folder.glob("*.json")
    stored.write_bytes(DAMAGE[damage](stored.read_bytes()))
    again(monkeypatch)
    assert shown(proof.prove(definition)) == truth
    assert len(cache.runs) == 2  # proved again, not read


def test_other_code_or_other_limits_prove_anew(cache, monkeypatch):
    files = faulty()
    proof.prove(definition_of(files))
    assert proof_cache.lookup(files) is not None
    with monkeypatch.context() as changed:
        changed.setattr(proof_cache, "_fingerprint", ["engine code as changed by an update"])
        assert proof_cache.lookup(files) is None
    with monkeypatch.context() as changed:
        changed.setattr(proof_explorer, "MAX_STATES", proof_explorer.MAX_STATES + 1)
        assert proof_cache.lookup(files) is None
    with monkeypatch.context() as changed:
        changed.setattr(proof_explorer, "MAX_SECONDS", proof_explorer.MAX_SECONDS * 2)
        assert proof_cache.lookup(files) is None
    assert proof_cache.lookup(files) is not None


def test_the_same_contents_under_another_name_is_its_own_verdict(cache):
    """A verdict names its file (Problem.file): the same contents under another name are not
    answered with the other name's problems."""
    proof.prove(definition_of(faulty("meldcode.bpmn")))
    assert proof_cache.lookup(faulty("meldcode.bpmn"))
    assert proof_cache.lookup(faulty("eigen-meldcode.bpmn")) is None


def test_a_verdict_cut_short_by_the_limit_is_not_kept(cache, monkeypatch):
    monkeypatch.setattr(proof_explorer, "MAX_STATES", 5)
    problems = proof.prove(definition_of(faulty()))
    assert any("past niet binnen" in str(p) for p in problems), [str(p) for p in problems]
    assert list(cache.folder.glob("*.json")) == []


def proved_twice_keeping_nothing(cache, monkeypatch) -> None:
    """Two processes in turn prove the faulty set: both run the proof, no folder is made."""
    definition = definition_of(faulty())
    proof.prove(definition)
    again(monkeypatch)
    proof.prove(definition)
    assert len(cache.runs) == 2
    assert not cache.folder.exists()


def test_switched_off_nothing_is_kept(cache, monkeypatch):
    monkeypatch.setenv("MELDCODE_PROOF_CACHE", "uit")
    proved_twice_keeping_nothing(cache, monkeypatch)


def test_a_folder_that_cannot_be_written_only_costs_time(cache, monkeypatch):
    cache.folder.parent.mkdir(exist_ok=True)
    cache.folder.write_text("a file where the folder should be")
    definition = definition_of(faulty())
    first = shown(proof.prove(definition))
    again(monkeypatch)
    assert shown(proof.prove(definition)) == first
    assert len(cache.runs) == 2


def test_without_the_engines_sources_nothing_is_kept(cache, monkeypatch, tmp_path):
    """An install without the engine's .py files has no code fingerprint: one release's verdict
    could be taken for another's, so none is kept or read."""
    monkeypatch.setattr(proof_cache, "ENGINE", tmp_path / "no-sources")
    monkeypatch.setattr(proof_cache, "_fingerprint", [])
    proved_twice_keeping_nothing(cache, monkeypatch)


def _key_path(cache, files):
    cache.folder.mkdir(mode=0o700, exist_ok=True)
    return cache.folder / f"{proof_cache.key_of(files)}.json"


@pytest.mark.parametrize("kind", ["fifo", "symlink to an endless device", "oversized"])
def test_a_stored_verdict_that_is_no_small_regular_file_is_not_read(cache, kind):
    """A FIFO made the check wait for a writer; a symlink to /dev/zero read without end."""
    import os

    files = faulty()
    path = _key_path(cache, files)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "symlink to an endless device":
        path.symlink_to("/dev/zero")
    else:
        path.write_bytes(b" " * (proof_cache.MAX_BYTES + 1))
    assert proof_cache.lookup(files) is None


@pytest.mark.parametrize("mode", [0o770, 0o707])
def test_a_folder_others_may_write_is_not_used(cache, monkeypatch, mode):
    files = faulty()
    proof.prove(definition_of(files))
    assert proof_cache.lookup(files) is not None
    cache.folder.chmod(mode)
    assert proof_cache.lookup(files) is None
    [stored] = cache.folder.glob("*.json")
    stored.unlink()
    again(monkeypatch)
    proof.prove(definition_of(files))
    assert list(cache.folder.glob("*.json")) == []  # nothing written there either


def test_uit_in_capitals_is_off_too(cache, monkeypatch):
    monkeypatch.setenv("MELDCODE_PROOF_CACHE", " UIT ")
    proof.prove(definition_of(faulty()))
    assert not cache.folder.exists()
    assert not (ROOT / "UIT").exists()


def test_a_verdict_holds_for_its_day_only(cache, monkeypatch):
    """A date field is answered with today: a condition over a date may route otherwise the
    next day (the tester's diagram: clean on the day it was checked, a melding ready twice at
    once two days later). Neither this process's verdict nor the stored one is taken then."""
    from datetime import UTC, datetime

    from engine import clock

    root = etree.fromstring(BPMN)
    [condition] = root.xpath("//bpmn:sequenceFlow[@id='sf_hulp_sluit_aan']"
                             "/bpmn:conditionExpression", namespaces=NS)
    condition.text = (
        '(hulp_effectief == False and besluit_melden == True and meldingen_gedaan == 0 and '
        'hulp_evaluatiedatum <= "2026-03-10") or (hulp_effectief == False and '
        'meldingen_gedaan == 99 and hulp_evaluatiedatum > "2026-03-10")')
    files = [SourceFile("meldcode.bpmn", etree.tostring(root, xml_declaration=True,
                                                        encoding="UTF-8")),
             SourceFile("afwegingskader.dmn", DMN)]
    definition = definition_of(files)
    with clock.use(datetime(2026, 3, 10, 12, tzinfo=UTC)):
        assert proof.prove(definition) == []
    with clock.use(datetime(2026, 3, 12, 12, tzinfo=UTC)):
        later = proof.prove(definition)
    assert any("twee keer tegelijk" in str(p) for p in later), [str(p) for p in later]
    assert len(cache.runs) == 2
