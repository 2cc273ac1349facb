"""Passwords: the argon2id hasher of the configured profile, the password policy of
CONTRACT section 5 (zxcvbn with Dutch words, in Dutch) and new random passwords."""

from __future__ import annotations

import difflib
import gzip
import heapq
import json
import re
import secrets
import threading
import unicodedata
from collections.abc import Mapping
from importlib.resources import files
from typing import Any

import zxcvbn
import zxcvbn.matching
from argon2 import PasswordHasher, profiles

from . import config, forms
from .errors import Invalid
from .messages import N_, Message

# The argon2id parameters per MELDCODE_ARGON2_PROFILE (engine.config): "standard" is
# argon2-cffi's default (RFC 9106's low-memory choice, 64 MiB); "fast" its cheapest, for
# development and test runs that create many users. A hash made with other parameters than
# the profile in force is remade on the next sign-in (check_needs_rehash).
ARGON2_PROFILES = {"standard": profiles.RFC_9106_LOW_MEMORY, "fast": profiles.CHEAPEST}
_hashers: dict[str, tuple[PasswordHasher, str]] = {}


def password_hasher() -> PasswordHasher:
    """The argon2 hasher of the configured profile (MELDCODE_ARGON2_PROFILE)."""
    return hasher_and_dummy()[0]


def hasher_and_dummy() -> tuple[PasswordHasher, str]:
    """The argon2 hasher of the configured profile and a fixed hash made with it, to verify a
    password against when no user has the name given (so the time taken does not tell
    whether the name exists). Made once per profile. Raises KeyError for a profile that
    ARGON2_PROFILES does not know (config refuses those first)."""
    profile = config.current().argon2_profile
    made = _hashers.get(profile)
    if made is None:
        hasher = PasswordHasher.from_parameters(ARGON2_PROFILES[profile])
        # A fixed hash to verify against when the user does not exist, so timing does not
        # reveal names.
        made = _hashers[profile] = (hasher, hasher.hash("meldcode-dummy-password"))
    return made


# --- password policy (CONTRACT section 5) -----------------------------------------------------

MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # argon2 takes any length; the cap keeps a huge input from costing CPU
# zxcvbn's score 3: more than 10^8 guesses, "safely unguessable" for an online attacker and a
# fair wall against an offline one with argon2. It finds common passwords (its list of the most
# used ones), words, names, keyboard walks, repeats, sequences, dates and years.
MIN_SCORE = 3
# Known words and names with digits or symbols around or between them ("zomer2026!!!",
# "zomer2026zomer", "Jan-Jansen-1980", "W3lk0m2026!!") score 3, yet they are what every
# cracking rule set tries first (hashcat's best64 and combinator attacks: words from a list,
# letters swapped for look-alike digits, then characters added). Such a password is scored as
# the attacker builds it: the guesses for its words times the guesses for what was added. A
# random string whose letters happen to spell a word ("_&if\\S7&am)^") has random additions and
# passes; words with a year and an exclamation mark do not.
MIN_SPLIT_GUESSES = 1e11
# At most this many letters of the words may be no known word (an initial, "kat", "oma"):
# zxcvbn counts a short run of letters as random even when it is a word. At least 4 must be.
MAX_RANDOM_LETTERS = 3
# zxcvbn ranks words of English and a few names; these Dutch words and the product's own name
# are what a Dutch care worker reaches for first, so they count as dictionary words too.
COMMON_WORDS = (
    "meldcode", "wachtwoord", "welkom", "geheim", "hallo", "veilig", "thuis", "veiligthuis",
    "zorg", "zorgverlener", "medewerker", "beheerder", "leidinggevende", "kind", "kinderen",
    "gezin", "liefde", "schatje", "voetbal", "ajax", "feyenoord", "psv", "nederland",
    "holland", "amsterdam", "rotterdam", "utrecht", "denhaag", "eindhoven", "groningen",
    "lente", "zomer", "herfst", "winter", "januari", "februari", "maart", "april", "mei",
    "juni", "juli", "augustus", "september", "oktober", "november", "december", "maandag",
    "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag", "wijkteam", "jeugd",
    "jeugdzorg", "huiselijk", "geweld", "kindermishandeling", "inloggen", "gebruiker",
    # Dutch phrases and passwords that people choose, ranked as zxcvbn's own password list is.
    "ikhouvanjou", "ikhoudvanjou", "ikhouvanje", "ikbenhet", "hoihoi", "doeidoei", "welkom01", "geheim123",
    "wachtwoord123", "mijnwachtwoord", "hetwachtwoord", "lieveschat", "ditismijnwachtwoord",
)
# The most frequent Dutch first names and surnames: a name with a birth year is what a user
# picks and what an attacker tries first. Both lists rank these words far down.
DUTCH_NAMES = (
    "jan", "piet", "kees", "henk", "klaas", "willem", "johan", "peter", "hans", "gerrit",
    "cor", "bram", "daan", "sem", "lucas", "levi", "finn", "noah", "thijs", "ruben", "jeroen",
    "maria", "anna", "johanna", "cornelia", "sanne", "lisa", "emma", "julia", "sophie", "tess",
    "anouk", "fleur", "eva", "lotte", "femke", "linda", "monique", "marieke", "ingrid", "els",
    "jansen", "janssen", "devries", "vries", "dejong", "jong", "vandenberg", "berg", "vandijk",
    "dijk", "bakker", "visser", "smit", "meijer", "deboer", "boer", "mulder", "degroot",
    "groot", "bos", "vos", "peters", "hendriks", "vanleeuwen", "dekker", "brouwer", "dewit",
    "dijkstra", "smits", "degraaf", "vandermeer", "vanderlinden", "kok", "jacobs", "dehaan",
    "vermeulen", "vandenheuvel", "vanderveen", "vandenbroek", "willems", "vanvliet",
    "hoekstra", "maas", "verhoeven", "koster", "vandam", "prins", "blom", "huisman",
)
# How many of the most frequent Dutch words (pyspellchecker's frequency list, from spoken
# Dutch) count as dictionary words, as zxcvbn's English lists hold some 30,000 each.
DUTCH_WORDS = 50_000
_lists_lock = threading.Lock()
_lists_added = False


def add_dutch_lists() -> None:
    """Register the Dutch word, name and password lists with zxcvbn (its documented
    `add_frequency_lists`), once per process: about 0.4 s, paid by the first new password."""
    global _lists_added
    with _lists_lock:
        if _lists_added:
            return
        counts = json.loads(gzip.decompress(
            (files("spellchecker") / "resources" / "nl.json.gz").read_bytes()))
        common = heapq.nlargest(DUTCH_WORDS, (w for w in counts if w.isalpha() and len(w) > 1),
                                key=counts.__getitem__)
        zxcvbn.matching.add_frequency_lists({
            "nederlands": common, "nederlandse_namen": list(DUTCH_NAMES),
            "nederlandse_wachtwoorden": list(COMMON_WORDS)})
        _lists_added = True


# Only the start is scored: zxcvbn takes at most 72 characters, its cost grows with the
# length, and a long password whose first 64 characters are strong is strong. Its look-alike
# matching tries every mix of readings of the characters that stand for letters ("1" for i or
# l, "(" for c): with many different ones, 40 characters took seconds. A start that holds that
# many is random symbols, strong from its first 24 characters.
_SCORED = 64
_SCORED_MANY_LOOKALIKES = 24
_LOOKALIKES = frozenset(c for subs in zxcvbn.matching.L33T_TABLE.values() for c in subs)
# The letter each look-alike most often stands for (zxcvbn's table, first reading first).
_LETTER_OF: dict[str, str] = {}
for _letter, _subs in zxcvbn.matching.L33T_TABLE.items():
    for _sub in _subs:
        _LETTER_OF.setdefault(_sub, _letter)


# The demo users' password (`meldcode init --demo`): it is in the README, so anyone knows it.
DEMO_PASSWORD = "oefenen-met-meldcode"  # noqa: S105 - published on purpose, for the demo only


def password_problem(password: str, name: str = "", display_name: str = "",
                     demo: bool = False) -> str | None:
    """Why a new password is refused, in Dutch, or None when it may be used.

    In: the password and, when known, the user's name and full name (a password built from
    them is easy to guess). The rule is CONTRACT section 5: at least 12 characters and not a
    common password; "common" as zxcvbn judges it (score below 3), with Dutch words added, or a
    known word with only digits and symbols before or after it.
    The published DEMO_PASSWORD is refused too, except for the demo users (demo=True).
    Existing passwords are never checked again: the rule applies when one is set.
    """
    password = password or ""
    # A character no keyboard types and no database stores (NUL, other control characters,
    # a lone surrogate, an invisible or direction-reversing one): the rule of forms.clean_text.
    refused = forms.refused_character(password)
    if refused is not None:
        return forms.refused_character(password, subject=N_("Het wachtwoord"))
    if len(password) < MIN_PASSWORD:
        return Message(N_("Het wachtwoord moet minstens {n} tekens hebben."), n=MIN_PASSWORD)
    if len(password) > MAX_PASSWORD:
        return Message(N_("Het wachtwoord mag hoogstens {n} tekens hebben."), n=MAX_PASSWORD)
    if not password.strip():
        return N_("Het wachtwoord mag niet alleen uit spaties bestaan.")
    if password == DEMO_PASSWORD and demo:
        return None
    if _like_demo_password(password):
        return N_("Dit is het wachtwoord van de demogebruikers; het staat in de handleiding en "
                  "is dus bij iedereen bekend. Kies een ander.")
    add_dutch_lists()
    personal = [p for p in (name, display_name, *(display_name or "").split()) if p]
    scored = _scored_part(password)
    result = zxcvbn.zxcvbn(scored, user_inputs=personal)
    if result["score"] < MIN_SCORE:
        return _weakness(result, {p.lower() for p in personal})
    if _words_with_additions(scored, personal) < MIN_SPLIT_GUESSES:
        return N_("Bekende woorden of namen met cijfers of tekens ervoor, ertussen of "
                  "erachter zijn makkelijk te raden. Kies een zin van een paar woorden "
                  "die niet bij elkaar horen.")
    return None


def _scored_part(password: str) -> str:
    """The part of the password zxcvbn scores (see _SCORED), in NFKC form: full-width and
    other compatibility forms of letters and digits are the letters and digits a cracking
    rule tries."""
    head = unicodedata.normalize("NFKC", password)[:_SCORED]
    if len(set(head) & _LOOKALIKES) > 6:
        return head[:_SCORED_MANY_LOOKALIKES]
    return head


# Digits and symbols that stand between letters: read as the letters they look like.
_INNER_LOOKALIKES = re.compile(
    r"(?<=[^\W\d_])[" + re.escape("".join(sorted(_LOOKALIKES))) + r"]+(?=[^\W\d_])")
# Additions that make no password stronger when only they are added: word separators.
_SEPARATORS = frozenset(" -_.")


def _words_with_additions(scored: str, personal: list[str]) -> float:
    """The guesses for `scored` built as an attacker's rules build it: its words times what
    was added around or between them (_added_guesses), the fewer of two readings: as typed,
    and with look-alike digits and symbols between letters read as the letters they stand
    for ("W3lk0m"). Infinity when the password is not words with additions: fewer than 4
    letters, more than MAX_RANDOM_LETTERS letters that are no known word, or only separators
    added (a phrase, which zxcvbn scores as a whole)."""
    read = _INNER_LOOKALIKES.sub(lambda m: "".join(_LETTER_OF[c] for c in m.group()), scored)
    return min(_split_guesses(scored, personal), _split_guesses(read, personal))


def _split_guesses(text: str, personal: list[str]) -> float:
    letters = "".join(c for c in text if c.isalpha())
    added = "".join(c for c in text if not c.isalpha())
    if len(letters) < 4 or set(added) <= _SEPARATORS:
        return float("inf")
    words = zxcvbn.zxcvbn(letters, user_inputs=personal)
    random_letters = sum(len(m["token"]) for m in words["sequence"]
                         if m.get("pattern") == "bruteforce")
    if random_letters > MAX_RANDOM_LETTERS or len(letters) - random_letters < 4:
        return float("inf")
    return float(words["guesses"]) * _added_guesses(text)


# A run of digits, of separators, or of other symbols.
_ADDED_RUN = re.compile(r"\d+|[ ._-]+|[^\w .-]+|_+")


def _added_guesses(read: str) -> float:
    """How many tries a rule-based attack needs for the digits and symbols in `read`, as its
    rules add them to words: a year (1900-2099) is one of 200, other digits one of 10 per
    digit, a separator one of 4 per character, one symbol repeated (!!!) one of 33 per
    length, other symbols one of 33 per character; what stands between letters also one of
    as many places as there are letters. zxcvbn's own estimate for such short runs counts
    them as random characters, far more than a rule needs."""
    guesses = 1.0
    chunks = re.split(r"[^\W\d_]+", read)
    letters = sum(map(str.isalpha, read))
    for k, chunk in enumerate(chunks):
        # between letters, not only a separator between words: also where, of `letters`
        if 0 < k < len(chunks) - 1 and not set(chunk) <= _SEPARATORS:
            guesses *= letters
        for run in _ADDED_RUN.findall(chunk):
            if run.isdigit():
                guesses *= 200 if len(run) == 4 and 1900 <= int(run) <= 2099 else 10.0 ** len(run)
            elif set(run) <= _SEPARATORS:
                guesses *= 4.0 ** len(run)
            elif len(set(run)) == 1:
                guesses *= 33 * len(run)
            else:
                guesses *= 33.0 ** len(run)
    return guesses


def _like_demo_password(password: str) -> bool:
    """Whether the password is the published DEMO_PASSWORD in another spelling: capitals,
    separators, look-alike digits, reversed, its words in another order or a letter or two
    changed (a similarity of 0.8 or more, difflib's ratio)."""
    def words(text: str) -> list[str]:
        text = unicodedata.normalize("NFKC", text).casefold()
        text = "".join(_LETTER_OF.get(c, c) for c in text)
        return [w for w in re.split(r"[\W\d_]+", text) if w]

    demo, given = words(DEMO_PASSWORD), words(password)
    demo_text, given_text = "".join(demo), "".join(given)
    if demo_text in given_text or demo_text[::-1] in given_text:
        return True
    return any(difflib.SequenceMatcher(None, a, b).ratio() >= 0.8 for a, b in (
        (given_text, demo_text), (given_text[::-1], demo_text),
        (" ".join(sorted(given)), " ".join(sorted(demo)))))


def _weakness(result: Mapping[str, Any], personal: set[str]) -> str:
    """The main reason zxcvbn found, in Dutch: its own feedback is English."""
    matches = sorted(result.get("sequence") or [], key=lambda m: len(m.get("token", "")),
                     reverse=True)
    for match in matches:
        pattern = match.get("pattern")
        if pattern == "dictionary":
            if match.get("dictionary_name") == "user_inputs" and \
                    match.get("matched_word", "").lower() in personal:
                return N_("Het wachtwoord lijkt op de naam van de gebruiker. Kies iets wat "
                          "niemand met die naam verbindt.")
            if match.get("dictionary_name") in ("passwords", "nederlandse_wachtwoorden"):
                return N_("Dit is een veelgebruikt wachtwoord (of lijkt er sterk op). Kies een "
                          "zin van een paar woorden die niet bij elkaar horen.")
            return N_("Het wachtwoord bestaat vooral uit een bekend woord. Voeg woorden toe die "
                      "niet bij elkaar horen.")
        if pattern == "repeat":
            return N_("Het wachtwoord herhaalt steeds dezelfde tekens of reeks. Kies iets anders.")
        if pattern == "sequence":
            return N_("Een reeks zoals 'abcd' of '1234' is makkelijk te raden. Kies iets anders.")
        if pattern == "spatial":
            return N_("Een rij toetsen naast elkaar op het toetsenbord is makkelijk te raden. "
                      "Kies iets anders.")
        if pattern in ("date", "regex"):
            return N_("Jaartallen en datums zijn makkelijk te raden. Kies iets anders.")
    return N_("Het wachtwoord is te makkelijk te raden. Kies een zin van een paar woorden die "
              "niet bij elkaar horen.")


def check_password(password: str, name: str = "", display_name: str = "",
                   demo: bool = False) -> None:
    """Raise Invalid (422, field `wachtwoord`) when password_problem finds one."""
    problem = password_problem(password, name, display_name, demo)
    if problem:
        raise Invalid(problem, {"wachtwoord": problem})


def generate_password() -> str:
    """A new random password for a reset: 20 characters from an alphabet without look-alikes
    (no 0/O, 1/l/I), in groups of five; about 110 bits."""
    alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    groups = ["".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4)]
    return "-".join(groups)
