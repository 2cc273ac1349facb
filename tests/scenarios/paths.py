"""Every route through the shipped meldcode: the decision variables and what must follow.

A walker completes whatever task is ready, filling the form from its field definitions and
the scenario's decisions, the way a client of the API would.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field

from engine import expressions, forms

BASE = ["stap1_signalen", "stap2_overleg"]
# After each melding, the feedback of Veilig Thuis is recorded (once, unless Veilig Thuis
# reports again: terugkoppeling_vervolg, which fill() answers "no" unless a scenario says).
MELDING = ["melding_voorbereiden", "melding_voorbespreken", "melding_doen", "terugkoppeling_vt"]
MELDING_DIRECT = ["melding_voorbereiden", "melding_doen", "terugkoppeling_vt"]
HULP = ["hulp_organiseren", "hulp_evalueren"]
# After stap 5 the leidinggevende records that the decisions were discussed, beside the rest.
AFSTEMMEN = ["besluit_afstemmen"]
# Steps of the team around the route (CONTRACT section 5): a walker that follows only the
# route's own steps may have the team do these at once, as soon as they are ready.
TEAM_STEPS = ("besluit_afstemmen", "terugkoppeling_vt")


@dataclass
class Scenario:
    name: str
    decisions: dict
    steps: list[str]
    uitkomst: str
    besluit: tuple[bool, bool] | None = None  # (besluit_melden, besluit_hulp)
    # Per step, decisions that change on a second visit (the melding after failed help).
    later: dict = field(default_factory=dict)
    # Steps to complete first when they are ready, in this order (parallel branches): the
    # route can depend on which branch gets on first. Walkers that take the first ready task
    # of the case reach the same route (the melding branch is listed first after stap 5).
    first: tuple[str, ...] = ()
    # Per step, fields this route must ask (CONTRACT section 5): the step completed without
    # them is refused (422) naming exactly these, nothing stored.
    asks: dict = field(default_factory=dict)
    # Per step, fields this route must not require: the step completes without them.
    spares: dict = field(default_factory=dict)

    def pick(self, tasks: list[dict]) -> dict:
        """The ready task (as listed in a case) this scenario completes next."""
        for step in self.first:
            for task in tasks:
                if task["step"] == step:
                    return task
        return tasks[0]


WEGEN = {"kindcheck_kinderen": True, "advies_veilig_thuis": False}
# What deskundige_raadplegen records: Veilig Thuis's and the organisation's expert's advice.
DESKUNDIGE = ("deskundige_vt_contact", "deskundige_vt_advies", "deskundige_naam",
              "deskundige_advies")
# The talks with the client (or about the client's conclusion) that the expert's advice must
# precede with eergerelateerd geweld, huwelijksdwang or achterlating.
TALKS = ("stap3_gesprek", "stap4_wegen", "melding_voorbespreken")

SCENARIOS = [
    Scenario("zorgen_weggenomen",
             {**WEGEN, "gesprek_uitzondering": "geen", "zorgen_weggenomen": True},
             BASE + ["stap3_gesprek"], "zorgen_weggenomen"),
    Scenario("gesprek_geen_vermoeden",
             {**WEGEN, "gesprek_uitzondering": "geen", "zorgen_weggenomen": False,
              "vermoeden": False, "acute_onveiligheid": False, "structurele_onveiligheid": False,
              "weging_besproken_client": True},
             BASE + ["stap3_gesprek", "stap4_wegen"], "geen_vermoeden"),
    Scenario("uitzondering_veiligheid_geen_vermoeden",
             {"kindcheck_kinderen": False, "advies_veilig_thuis": True,
              "gesprek_uitzondering": "veiligheid", "vermoeden": False,
              "acute_onveiligheid": False, "structurele_onveiligheid": False,
              "weging_besproken_client": False},
             BASE + ["stap4_wegen"], "geen_vermoeden"),
    Scenario("acuut_melden_en_hulp",
             {**WEGEN, "gesprek_uitzondering": "contact_verbreken", "vermoeden": True,
              "acute_onveiligheid": True, "structurele_onveiligheid": False,
              "hulp_mogelijk": True, "hulp_aanvaard": True, "melding_uitzondering": "geen",
              "hulp_effectief": True},
             BASE + ["stap4_wegen", "stap5_beslissen"] + MELDING + HULP + AFSTEMMEN, "gemeld_en_hulp",
             (True, True)),
    Scenario("structureel_melden_en_hulp",
             {**WEGEN, "gesprek_uitzondering": "geen", "zorgen_weggenomen": False,
              "vermoeden": True, "acute_onveiligheid": False, "structurele_onveiligheid": True,
              "hulp_mogelijk": True, "hulp_aanvaard": True, "melding_uitzondering": "veiligheid",
              "hulp_effectief": True},
             BASE + ["stap3_gesprek", "stap4_wegen", "stap5_beslissen"] + MELDING_DIRECT + HULP
             + AFSTEMMEN, "gemeld_en_hulp", (True, True)),
    Scenario("geen_hulp_mogelijk_melden",
             {**WEGEN, "gesprek_uitzondering": "geen", "zorgen_weggenomen": False,
              "vermoeden": True, "acute_onveiligheid": False, "structurele_onveiligheid": False,
              "hulp_mogelijk": False, "hulp_aanvaard": True, "melding_uitzondering": "geen"},
             BASE + ["stap3_gesprek", "stap4_wegen", "stap5_beslissen"] + MELDING + AFSTEMMEN, "gemeld",
             (True, False)),
    Scenario("hulp_niet_aanvaard_melden_zonder_voorbespreken",
             {**WEGEN, "gesprek_uitzondering": "geen", "zorgen_weggenomen": False,
              "vermoeden": True, "acute_onveiligheid": False, "structurele_onveiligheid": False,
              "hulp_mogelijk": True, "hulp_aanvaard": False,
              "melding_uitzondering": "contact_verbreken"},
             BASE + ["stap3_gesprek", "stap4_wegen", "stap5_beslissen"] + MELDING_DIRECT + AFSTEMMEN,
             "gemeld", (True, False)),
    Scenario("alleen_hulp_effectief",
             {**WEGEN, "gesprek_uitzondering": "geen", "zorgen_weggenomen": False,
              "vermoeden": True, "acute_onveiligheid": False, "structurele_onveiligheid": False,
              "hulp_mogelijk": True, "hulp_aanvaard": True, "hulp_effectief": True},
             BASE + ["stap3_gesprek", "stap4_wegen", "stap5_beslissen"] + HULP + AFSTEMMEN, "hulp",
             (False, True)),
    # CONTRACT section 5: the forms of violence, the professional carer as perpetrator and the
    # kindcheck with consequence. With eergerelateerd geweld, huwelijksdwang or achterlating the
    # expert and Veilig Thuis are consulted after stap 2, before any talk with the client.
    Scenario("eergerelateerd_deskundige_voor_het_gesprek",
             {**WEGEN, "geweldsvormen": ["eergerelateerd"], "gesprek_uitzondering": "geen",
              "zorgen_weggenomen": True},
             BASE + ["deskundige_raadplegen", "stap3_gesprek"], "zorgen_weggenomen",
             asks={"deskundige_raadplegen": DESKUNDIGE}),
    # The advice shows that a talk endangers the client: stap 3 is skipped (rule 2).
    Scenario("huwelijksdwang_deskundige_gesprek_overgeslagen_acuut",
             {**WEGEN, "geweldsvormen": ["psychisch", "huwelijksdwang"],
              "gesprek_uitzondering": "veiligheid", "vermoeden": True,
              "acute_onveiligheid": True, "structurele_onveiligheid": False,
              "hulp_mogelijk": True, "hulp_aanvaard": True, "melding_uitzondering": "veiligheid",
              "hulp_effectief": True},
             BASE + ["deskundige_raadplegen", "stap4_wegen", "stap5_beslissen"] + MELDING_DIRECT
             + HULP + AFSTEMMEN, "gemeld_en_hulp", (True, True),
             asks={"deskundige_raadplegen": ("gesprek_uitzondering_reden",)}),
    # The expert goes before the talk of stap 3 and before the melding is discussed.
    Scenario("achterlating_deskundige_voor_gesprek_en_voorbespreken",
             {**WEGEN, "geweldsvormen": ["achterlating"], "gesprek_uitzondering": "geen",
              "zorgen_weggenomen": False, "vermoeden": True, "acute_onveiligheid": False,
              "structurele_onveiligheid": True, "hulp_mogelijk": False, "hulp_aanvaard": False,
              "melding_uitzondering": "geen"},
             BASE + ["deskundige_raadplegen", "stap3_gesprek", "stap4_wegen", "stap5_beslissen"]
             + MELDING + AFSTEMMEN, "gemeld", (True, False),
             asks={"deskundige_raadplegen": DESKUNDIGE}),
    # A professional carer as suspected perpetrator: the IGJ melding (Leidinggevende lane)
    # beside the meldcode, done before the case closes; the uitkomst is the meldcode's.
    Scenario("pleger_zorgverlener_melding_igj_naast_de_meldcode",
             {**WEGEN, "pleger_zorgverlener": True, "gesprek_uitzondering": "geen",
              "zorgen_weggenomen": False, "vermoeden": False, "acute_onveiligheid": False,
              "structurele_onveiligheid": False, "weging_besproken_client": True},
             BASE + ["melding_igj", "stap3_gesprek", "stap4_wegen"], "geen_vermoeden",
             asks={"melding_igj": ("igj_melddatum", "igj_kenmerk", "igj_gemeld_door")}),
    # Vrouwelijke genitale verminking: melding is the norm; not reporting needs a reason.
    Scenario("vgv_hulp_zonder_melding_met_reden",
             {**WEGEN, "geweldsvormen": ["vgv"], "gesprek_uitzondering": "geen",
              "zorgen_weggenomen": False, "vermoeden": True, "acute_onveiligheid": False,
              "structurele_onveiligheid": False, "hulp_mogelijk": True, "hulp_aanvaard": True,
              "hulp_effectief": True},
             BASE + ["stap3_gesprek", "stap4_wegen", "stap5_beslissen"] + HULP + AFSTEMMEN, "hulp",
             (False, True), asks={"stap5_beslissen": ("vgv_reden_niet_melden",)}),
    Scenario("vgv_melden_zonder_reden",
             {**WEGEN, "geweldsvormen": ["vgv", "lichamelijk"],
              "gesprek_uitzondering": "contact_verbreken", "vermoeden": True,
              "acute_onveiligheid": True, "structurele_onveiligheid": False,
              "hulp_mogelijk": False, "hulp_aanvaard": False, "melding_uitzondering": "geen"},
             BASE + ["stap4_wegen", "stap5_beslissen"] + MELDING + AFSTEMMEN, "gemeld",
             (True, False), spares={"stap5_beslissen": ("vgv_reden_niet_melden",)}),
    # The kindcheck with consequence: with children its questions are required, and a doubt
    # about their protection brings the children's own weighing in stap 4.
    Scenario("kinderen_in_twijfel_eigen_weging",
             {**WEGEN, "kindcheck_opvang_adequaat": True, "kindcheck_bescherming": False,
              "gesprek_uitzondering": "geen", "zorgen_weggenomen": False, "vermoeden": True,
              "acute_onveiligheid": False, "structurele_onveiligheid": True,
              "hulp_mogelijk": True, "hulp_aanvaard": True, "melding_uitzondering": "geen",
              "hulp_effectief": True},
             BASE + ["stap3_gesprek", "stap4_wegen", "stap5_beslissen"] + MELDING + HULP
             + AFSTEMMEN, "gemeld_en_hulp", (True, True),
             asks={"stap1_signalen": ("kindcheck_opvang_adequaat", "kindcheck_bescherming"),
                   "stap4_wegen": ("weging_kinderen",)}),
    Scenario("geen_kinderen_geen_kindcheckvragen",
             {"kindcheck_kinderen": False, "advies_veilig_thuis": True,
              "gesprek_uitzondering": "geen", "zorgen_weggenomen": True},
             BASE + ["stap3_gesprek"], "zorgen_weggenomen",
             spares={"stap1_signalen": ("kindcheck_opvang_adequaat", "kindcheck_bescherming")}),
    # Help fails while the decided melding is not yet made: it joins that melding (one melding).
    Scenario("melden_en_hulp_niet_effectief_sluit_aan",
             {**WEGEN, "gesprek_uitzondering": "geen", "zorgen_weggenomen": False,
              "vermoeden": True, "acute_onveiligheid": False, "structurele_onveiligheid": True,
              "hulp_mogelijk": True, "hulp_aanvaard": True, "hulp_effectief": False,
              "melding_uitzondering": "geen"},
             BASE + ["stap3_gesprek", "stap4_wegen", "stap5_beslissen"] + HULP + MELDING + AFSTEMMEN,
             "gemeld_en_hulp", (True, True), first=("hulp_organiseren", "hulp_evalueren")),
    Scenario("hulp_niet_effectief_alsnog_melden",
             {**WEGEN, "gesprek_uitzondering": "geen", "zorgen_weggenomen": False,
              "vermoeden": True, "acute_onveiligheid": False, "structurele_onveiligheid": False,
              "hulp_mogelijk": True, "hulp_aanvaard": True, "hulp_effectief": False,
              "melding_uitzondering": "geen"},
             BASE + ["stap3_gesprek", "stap4_wegen", "stap5_beslissen"] + HULP + MELDING + AFSTEMMEN,
             "gemeld_en_hulp", (False, True)),
    # The melding is made first, then help fails: opnieuw melden, a second melding.
    Scenario("melden_en_hulp_niet_effectief_opnieuw_melden",
             {**WEGEN, "gesprek_uitzondering": "veiligheid", "vermoeden": True,
              "acute_onveiligheid": True, "structurele_onveiligheid": True,
              "hulp_mogelijk": True, "hulp_aanvaard": True, "hulp_effectief": False,
              "melding_uitzondering": "veiligheid"},
             BASE + ["stap4_wegen", "stap5_beslissen"] + MELDING_DIRECT + HULP + MELDING_DIRECT
             + AFSTEMMEN, "gemeld_en_hulp", (True, True),
             first=("melding_voorbereiden", "melding_doen")),
]

# The longest route: the melding twice.
LONGEST = next(s for s in SCENARIOS if s.name == "melden_en_hulp_niet_effectief_opnieuw_melden")


@functools.cache
def shown_when() -> dict[str, str]:
    """The shown_when of each field of the shipped diagram that has one, by field name (the
    field dicts of a form, as the API gives them, do not carry it)."""
    from engine import definitions

    steps = definitions.load(definitions.shipped_files()).steps.values()
    return {f.name: f.shown_when for step in steps for f in step.fields if f.shown_when}


def is_shown(name: str, known: dict) -> bool:
    """Whether the field `name` is on the form of a case with the data `known` (the decisions
    and answers so far), as engine.forms.shown_fields decides it. A variable of the condition
    that `known` lacks (an answer of an earlier form, which `fill` made without being told) is
    taken as fill answers a required yes/no question it was not told: yes; a shown_when that
    still cannot be evaluated does not hold."""
    condition = shown_when().get(name)
    if condition is None:
        return True
    assumed = {n: True for n in expressions.names_in(condition) if n not in known}
    try:
        return bool(expressions.evaluate(condition, {**assumed, **known}))
    except expressions.ExpressionError:
        return False


def fill(fields: list[dict], decisions: dict) -> dict:
    """Form data as a careful user would enter it: decisions as given, text where asked, and
    a choice wherever the form requires one, also where a field's required_when holds. A field
    whose required_when does not hold is not asked and gets no answer (a decision included).

    Only fields on the form of the scenario's case are answered (is_shown): `fields` may be
    every field of a step (as_dict of the diagram's), and the engine refuses an answer to a
    field this case's form leaves off (a KNMG point in a case of another beroepsgroep). The
    case's beroepsgroep is the organisation's default (sociaal_domein) unless the decisions
    name one."""
    data: dict = {}
    # Veilig Thuis reports back once unless the scenario says it will report again.
    # The suspected perpetrator is no professional carer (no melding to the IGJ) and no form of
    # violence that changes the route was seen, unless the scenario says so.
    decisions = {"terugkoppeling_vervolg": False, "pleger_zorgverlener": False,
                 "beroepsgroep": "sociaal_domein", **decisions}

    # a field left empty is read as its default by a condition (engine.forms.condition_scope)
    defaults = {f["name"]: f["default"] for f in fields if "default" in f}

    # fields of this form left unasked with these answers: a decision for one of them is no
    # answer, so it never switches on a question after it (the server reads it as not given)
    unasked: set[str] = set()

    def scope() -> dict:
        given = {k: v for k, v in decisions.items() if k not in unasked}
        return {**defaults, **given, **data}

    def required(f) -> bool:
        if f["required"]:
            return True
        try:
            return bool(f.get("required_when") and expressions.evaluate(
                f["required_when"], scope()))
        except expressions.ExpressionError:
            return False

    def refused(f, value) -> bool:
        # its invalid_when holds with this answer: a careful user leaves it empty
        try:
            return bool(f.get("invalid_when") and expressions.evaluate(
                f["invalid_when"], {**scope(), f["name"]: value}))
        except expressions.ExpressionError:
            return False

    for _ in range(len(fields) + 1):  # a condition may read a field filled in this pass
        before = dict(data)
        for f in fields:
            name = f["name"]
            if not is_shown(name, {**decisions, **data}):
                continue
            if f.get("required_when") and not required(f):
                # not asked with these answers: engine.forms.validate refuses an answer to it
                data.pop(name, None)
                unasked.add(name)
                continue
            unasked.discard(name)
            if name in decisions:
                data[name] = decisions[name]
            elif f["type"] in ("string", "text"):
                if refused(f, f"Vastgelegd voor {f['label'][:40]}"):
                    data.pop(name, None)  # an optional text refused here (kindcheck_toelichting)
                    continue
                data[name] = f"Vastgelegd voor {f['label'][:40]}"
            elif f["type"] == "date":  # today: no date field refuses it (not_after, not_before)
                data[name] = forms.today().isoformat()
            elif f["type"] == "integer":
                data[name] = 2
            elif f["type"] == "boolean" and required(f):
                data[name] = True
            elif f["type"] == "enum" and required(f):
                data[name] = f["options"][0]["value"]
            elif f["type"] == "multi" and required(f):
                data[name] = [f["options"][0]["value"]]
        if data == before:
            break
    return data


def same_steps(actual: list[str], expected: list[str]) -> bool:
    """Parallel branches may interleave: the same steps, and the five steps in order."""
    order = [s for s in actual if s.startswith("stap")]
    return Counter(actual) == Counter(expected) and order == [
        s for s in expected if s.startswith("stap")
    ]
