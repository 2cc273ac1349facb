"""The safe evaluator: what diagrams may say, and hostile text refused with a clear reason."""

import pytest

from engine.expressions import ExpressionError, compile_expression, evaluate, names_in


@pytest.mark.parametrize(
    ("text", "context", "expected"),
    [
        ("gesprek_uitzondering == 'geen'", {"gesprek_uitzondering": "geen"}, True),
        ("zorgen_weggenomen == True", {"zorgen_weggenomen": False}, False),
        ("a or b and not c", {"a": False, "b": True, "c": False}, True),
        ("x in ('veiligheid', 'contact_verbreken')", {"x": "veiligheid"}, True),
        ("x not in ['geen']", {"x": "geen"}, False),
        ("1 < n <= 5", {"n": 5}, True),
        ("n * 2 + 1 > 10", {"n": 5}, True),
        ("v == true", {"v": True}, True),
        ("v == null", {"v": None}, True),
        ("-n", {"n": 3}, -3),
    ],
)
def test_allowed(text, context, expected):
    assert evaluate(text, context) == expected


HOSTILE = [
    ("().__class__.__bases__[0].__subclasses__()", "functie-aanroepen"),
    ("().__class__.__bases__", "attribuuttoegang"),
    ("__import__('os').system('id')", "functie-aanroepen"),
    ("open('/etc/passwd')", "functie-aanroepen"),
    ("x.real", "attribuuttoegang"),
    ("__builtins__", "niet toegestaan"),
    ("_secret == 1", "niet toegestaan"),
    ("(lambda: 1)()", "functie-aanroepen"),
    ("lambda: 1", "lambda"),
    ("[c for c in 'abc']", "comprehensions"),
    ("{k: 1 for k in 'ab'}", "comprehensions"),
    ("data['x']", "indexering"),
    ("9 ** 9 ** 9", "machtsverheffen"),
    ("(x := 1)", "toekenningen"),
    ("f'{x}'", "f-strings"),
    ("'a' * 10", "tekst te lang"),  # refused at run time: arithmetic needs numbers
    ("'" + "a" * 5000 + "'", "te lang"),
    ("(" * 100 + "1" + ")" * 100, "diep"),
    ("not " * 200 + "x", "te groot"),
    ("not " * 50 + "x", "diep"),
    ("1 if x else 2", "if-expressies"),
    ("import os", "ongeldige expressie"),
    ("", "lege"),
    ("10 ** 1000", "machtsverheffen"),
    ("99999999999999999999", "getal te groot"),
]


@pytest.mark.parametrize(("text", "reason"), HOSTILE)
def test_hostile_refused(text, reason):
    with pytest.raises(ExpressionError) as info:
        evaluate(text, {"x": 1, "data": {"x": 1}})
    message = str(info.value)
    if reason == "tekst te lang":
        assert "getallen" in message
    else:
        assert reason in message


def test_objects_in_data_are_not_looked_at():
    class Evil:
        pass

    with pytest.raises(ExpressionError, match="niet-toegestaan type"):
        evaluate("x == 1", {"x": Evil()})


def test_unknown_variable_named():
    with pytest.raises(ExpressionError, match="onbekende variabele 'y'"):
        evaluate("y == 1", {})


def test_values_that_do_not_compare_are_named_in_words():
    """The process owner reads what the values are ("een getal", "een tekst"), never Python's
    type names ("int", "str")."""
    with pytest.raises(ExpressionError) as info:
        evaluate("a < b", {"a": 1, "b": "x"})
    assert str(info.value.args[0]) == "kan een getal en een tekst niet vergelijken"


def test_huge_arithmetic_result_refused():
    with pytest.raises(ExpressionError, match="getal te groot"):
        evaluate("n * n * n", {"n": 10**6})


def test_names_in():
    assert names_in("a == 'x' and not b or true") == {"a", "b"}
    compile_expression("a == 1")


def test_hostile_condition_refused_at_run_time(tmp_path):
    """Even a diagram that skipped deploy validation never reaches eval: the engine's script
    environment is ours, and the case cannot advance past the hostile condition."""
    from pathlib import Path

    from engine import adapter, definitions, driving
    from engine.errors import Conflict
    from tests.scenarios.paths import SCENARIOS, fill

    root = Path(__file__).resolve().parents[2] / "processes"
    marker = tmp_path / "pwned"
    hostile = (root / "meldcode.bpmn").read_text().replace(
        "gesprek_uitzondering == 'geen'", f"__import__('os').system('touch {marker}')", 1)
    parser = definitions.MeldcodeParser()
    parser.add_bpmn_str(hostile.encode(), "meldcode.bpmn")
    parser.add_dmn_file(str(root / "afwegingskader.dmn"))
    spec = parser.get_spec("meldcode")
    definition = definitions.ProcessDefinition("x", [], spec, {})
    definition.steps = definitions.load(definitions.shipped_files()).steps
    ids = adapter.IdSource(1)
    workflow, advance = driving.start_workflow(definition, ids)
    decisions = SCENARIOS[0].decisions
    with pytest.raises(Conflict, match="kan niet verder"):
        for _ in range(2):
            task = advance.ready[0]
            fields = [f.as_dict() for f in definition.steps[task.task_spec.bpmn_id].fields]
            advance = driving.complete_in_workflow(workflow, str(task.id), fill(fields, decisions),
                                                   ids)
    assert not marker.exists()
