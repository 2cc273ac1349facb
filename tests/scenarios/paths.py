"""Every route through the shipped meldcode: the decision variables and what must follow.

A walker completes whatever task is ready, filling the form from its field definitions and
the scenario's decisions, the way a client of the API would.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

BASE = ["stap1_signalen", "stap2_overleg"]
MELDING = ["melding_voorbereiden", "melding_voorbespreken", "melding_doen"]
MELDING_DIRECT = ["melding_voorbereiden", "melding_doen"]
HULP = ["hulp_organiseren", "hulp_evalueren"]


@dataclass
class Scenario:
    name: str
    decisions: dict
    steps: list[str]
    uitkomst: str
    besluit: tuple[bool, bool] | None = None  # (besluit_melden, besluit_hulp)
    # Per step, decisions that change on a second visit (the melding after failed help).
    later: dict = field(default_factory=dict)


WEGEN = {"kindcheck_kinderen": True, "advies_veilig_thuis": False}

SCENARIOS = [
    Scenario("zorgen_weggenomen",
             {**WEGEN, "gesprek_uitzondering": "geen", "zorgen_weggenomen": True},
             BASE + ["stap3_gesprek"], "zorgen_weggenomen"),
    Scenario("gesprek_geen_vermoeden",
             {**WEGEN, "gesprek_uitzondering": "geen", "zorgen_weggenomen": False,
              "vermoeden": False, "acute_onveiligheid": False, "structurele_onveiligheid": False},
             BASE + ["stap3_gesprek", "stap4_wegen"], "geen_vermoeden"),
    Scenario("uitzondering_veiligheid_geen_vermoeden",
             {"kindcheck_kinderen": False, "advies_veilig_thuis": True,
              "gesprek_uitzondering": "veiligheid", "vermoeden": False,
              "acute_onveiligheid": False, "structurele_onveiligheid": False},
             BASE + ["stap4_wegen"], "geen_vermoeden"),
    Scenario("acuut_melden_en_hulp",
             {**WEGEN, "gesprek_uitzondering": "contact_verbreken", "vermoeden": True,
              "acute_onveiligheid": True, "structurele_onveiligheid": False,
              "hulp_mogelijk": True, "hulp_aanvaard": True, "melding_uitzondering": "geen",
              "hulp_effectief": True},
             BASE + ["stap4_wegen", "stap5_beslissen"] + MELDING + HULP, "gemeld_en_hulp",
             (True, True)),
    Scenario("structureel_melden_en_hulp",
             {**WEGEN, "gesprek_uitzondering": "geen", "zorgen_weggenomen": False,
              "vermoeden": True, "acute_onveiligheid": False, "structurele_onveiligheid": True,
              "hulp_mogelijk": True, "hulp_aanvaard": True, "melding_uitzondering": "veiligheid",
              "hulp_effectief": True},
             BASE + ["stap3_gesprek", "stap4_wegen", "stap5_beslissen"] + MELDING_DIRECT + HULP,
             "gemeld_en_hulp", (True, True)),
    Scenario("geen_hulp_mogelijk_melden",
             {**WEGEN, "gesprek_uitzondering": "geen", "zorgen_weggenomen": False,
              "vermoeden": True, "acute_onveiligheid": False, "structurele_onveiligheid": False,
              "hulp_mogelijk": False, "hulp_aanvaard": True, "melding_uitzondering": "geen"},
             BASE + ["stap3_gesprek", "stap4_wegen", "stap5_beslissen"] + MELDING, "gemeld",
             (True, False)),
    Scenario("hulp_niet_aanvaard_melden_zonder_voorbespreken",
             {**WEGEN, "gesprek_uitzondering": "geen", "zorgen_weggenomen": False,
              "vermoeden": True, "acute_onveiligheid": False, "structurele_onveiligheid": False,
              "hulp_mogelijk": True, "hulp_aanvaard": False,
              "melding_uitzondering": "contact_verbreken"},
             BASE + ["stap3_gesprek", "stap4_wegen", "stap5_beslissen"] + MELDING_DIRECT,
             "gemeld", (True, False)),
    Scenario("alleen_hulp_effectief",
             {**WEGEN, "gesprek_uitzondering": "geen", "zorgen_weggenomen": False,
              "vermoeden": True, "acute_onveiligheid": False, "structurele_onveiligheid": False,
              "hulp_mogelijk": True, "hulp_aanvaard": True, "hulp_effectief": True},
             BASE + ["stap3_gesprek", "stap4_wegen", "stap5_beslissen"] + HULP, "hulp",
             (False, True)),
    Scenario("hulp_niet_effectief_alsnog_melden",
             {**WEGEN, "gesprek_uitzondering": "geen", "zorgen_weggenomen": False,
              "vermoeden": True, "acute_onveiligheid": False, "structurele_onveiligheid": False,
              "hulp_mogelijk": True, "hulp_aanvaard": True, "hulp_effectief": False,
              "melding_uitzondering": "geen"},
             BASE + ["stap3_gesprek", "stap4_wegen", "stap5_beslissen"] + HULP + MELDING,
             "gemeld_en_hulp", (False, True)),
    Scenario("melden_en_hulp_niet_effectief_opnieuw_melden",
             {**WEGEN, "gesprek_uitzondering": "veiligheid", "vermoeden": True,
              "acute_onveiligheid": True, "structurele_onveiligheid": True,
              "hulp_mogelijk": True, "hulp_aanvaard": True, "hulp_effectief": False,
              "melding_uitzondering": "geen"},
             BASE + ["stap4_wegen", "stap5_beslissen"] + MELDING + HULP + MELDING,
             "gemeld_en_hulp", (True, True)),
]

# The longest route: every step, and the melding twice.
LONGEST = SCENARIOS[-1]


def fill(fields: list[dict], decisions: dict) -> dict:
    """Form data as a careful user would enter it: decisions as given, text where asked."""
    data = {}
    for f in fields:
        name = f["name"]
        if name in decisions:
            data[name] = decisions[name]
        elif f["type"] in ("string", "text"):
            data[name] = f"Vastgelegd voor {f['label'][:40]}"
        elif f["type"] == "date":
            data[name] = "2026-11-20"
        elif f["type"] == "integer":
            data[name] = 2
        elif f["type"] == "boolean" and f["required"]:
            data[name] = True
        elif f["type"] == "enum" and f["required"]:
            data[name] = f["options"][0]["value"]
    return data


def same_steps(actual: list[str], expected: list[str]) -> bool:
    """Parallel branches may interleave: the same steps, and the five steps in order."""
    order = [s for s in actual if s.startswith("stap")]
    return Counter(actual) == Counter(expected) and order == [
        s for s in expected if s.startswith("stap")
    ]
