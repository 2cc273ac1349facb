"""The roles of CONTRACT section 2."""

MEDEWERKER = "medewerker"
LEIDINGGEVENDE = "leidinggevende"
AANDACHTSFUNCTIONARIS = "aandachtsfunctionaris"
AUDITOR = "auditor"
PROCESBEHEERDER = "procesbeheerder"
BEHEERDER = "beheerder"

ROLES = (MEDEWERKER, LEIDINGGEVENDE, AANDACHTSFUNCTIONARIS, AUDITOR, PROCESBEHEERDER, BEHEERDER)
# Roles that may start a case, and so own one.
CASE_STARTERS = (MEDEWERKER, LEIDINGGEVENDE, AANDACHTSFUNCTIONARIS)
# Lanes that hold tasks: a task outside any lane belongs to the medewerker.
TASK_LANES = (MEDEWERKER, LEIDINGGEVENDE, AANDACHTSFUNCTIONARIS)
