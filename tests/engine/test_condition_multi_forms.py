"""A required_when over a checkbox (multi) field of the same form (issue 14, a fresh tester):
`'lichamelijk' in geweldsvormen` on a text field of stap 1 passed meldcode check, but the task
page got no data-when for it (the browser compares one answer with one value, a multi answer
is a list), so the field was always shown as '(verplicht)' while the server refused an answer
to it with 'lichamelijk' not ticked. The check now refuses it with one Dutch finding naming the
multi field; in a condition that also reads a ja/nee field soundly, the finding names the part
the page cannot follow, not the ja/nee test."""

from __future__ import annotations

import pytest

from tests.diagram_edits import check_condition

FIELD = "letselduiding"  # a text field of stap 1, beside geweldsvormen and kindcheck_kinderen


def checked(condition: str):
    return check_condition(FIELD, "required_when", condition)


def findings(problems) -> list[str]:
    return [str(p) for p in problems if "niet kan volgen" in str(p) or "niet volgen" in str(p)]


@pytest.mark.parametrize(
    ("condition", "part"),
    [
        ("'lichamelijk' in geweldsvormen", "'lichamelijk' in geweldsvormen"),
        ("'lichamelijk' not in geweldsvormen", "'lichamelijk' not in geweldsvormen"),
        ("not 'lichamelijk' in geweldsvormen", "'lichamelijk' in geweldsvormen"),
        (
            "kindcheck_kinderen == True and 'lichamelijk' in geweldsvormen",
            "'lichamelijk' in geweldsvormen",
        ),
    ],
)
def test_a_multi_field_of_the_same_form_is_refused_with_one_finding_naming_it(condition, part):
    definition, problems = checked(condition)
    found = findings(problems)
    assert definition is None and len(found) == 1, [str(p) for p in problems]
    assert f"meerkeuzeveld 'geweldsvormen' van hetzelfde formulier in '{part}'" in found[0]
    assert "kindcheck_kinderen" not in found[0]


def test_a_sound_yes_no_test_beside_an_or_the_page_cannot_follow_is_not_blamed():
    definition, problems = checked(
        "kindcheck_kinderen == True and (zwangerschap == True or pleger_zorgverlener)"
    )
    found = findings(problems)
    assert definition is None and len(found) == 1, [str(p) for p in problems]
    assert "ja/nee-veld 'pleger_zorgverlener'" in found[0] or "ja/nee-veld 'zwangerschap'" in found[0]
    assert "kindcheck_kinderen" not in found[0]

