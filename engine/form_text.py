"""The one text rule of every door (API, web form, command line): what a submitted text may
hold and how it is stored (`clean_text`), why a character is refused (`refused_character`),
and a required note of the product's own forms (`required_note`).

Split from engine.forms (which re-exports these three names for its many callers): a text rule
is about characters, a form about fields and their conditions.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from .messages import N_, Message, text_of

# Characters refused in every text (the one rule of forms.clean_text), by Unicode category
# (unicodedata) rather than by a list, so every character of the kind is caught:
# - Cc, the C0 and C1 control characters and DEL (a newline or NUL in a client reference
#   breaks out of the line it is shown on, and of CSS, headers and logs); multi-line text
#   keeps the newline and the tab.
# - Cf, the invisible format characters. Among them the bidi embeddings, overrides and
#   isolates (U+202A-U+202E, U+2066-U+2069), which reorder the text around them as displayed,
#   so what is read differs from what is stored ("Trojan Source", CVE-2021-42574), and the
#   bidi marks LRM, RLM and ALM (U+200E, U+200F, U+061C): invisible direction controls too,
#   which move neighbouring digits and punctuation (issue 11 point 3). Further the invisible
#   characters that make two identical-looking references differ or hide text: zero-width
#   space U+200B, word joiner U+2060, byte order mark U+FEFF, soft hyphen U+00AD, the
#   interlinear annotation characters U+FFF9-U+FFFB and the tag characters U+E0000 block.
# - Zl and Zp, the line and paragraph separators U+2028/U+2029: a line break other than the
#   newline.
# - Cs, lone surrogates (U+D800-U+DFFF, possible from JSON "\ud800"): no character at all;
#   the database refuses to store them.
# The zero-width non-joiner U+200C and joiner U+200D (format characters too) stay allowed:
# Persian and Arabic names (and Indic scripts, and emoji sequences) need them.
_REFUSED_KINDS = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_JOINERS = frozenset({"\u200c", "\u200d"})
_MULTILINE_ALLOWED = frozenset({"\n", "\t"})
_BIDI_CONTROLS = frozenset({"LRE", "RLE", "PDF", "LRO", "RLO", "LRI", "RLI", "FSI", "PDI"})
# An ASCII text (most texts) is scanned by one expression; a text of other characters by
# the category of each of its distinct characters (texts run to 100,000 characters, their
# distinct characters to a few hundred).
_ASCII_REFUSED_IN_LINE = re.compile("[\\x00-\\x1f\\x7f]")
_ASCII_REFUSED_IN_TEXT = re.compile("[\\x00-\\x08\\x0b-\\x1f\\x7f]")


def _is_refused(char: str, multiline: bool) -> bool:
    """Whether clean_text's rule refuses `char` (see the notes above)."""
    if char in _JOINERS or (multiline and char in _MULTILINE_ALLOWED):
        return False
    return unicodedata.category(char) in _REFUSED_KINDS


def _first_refused(value: str, multiline: bool) -> str | None:
    """The first character of `value` that clean_text's rule refuses, or None."""
    if value.isascii():
        found = (_ASCII_REFUSED_IN_TEXT if multiline else _ASCII_REFUSED_IN_LINE).search(value)
        return found.group() if found else None
    refused = [char for char in set(value) if _is_refused(char, multiline)]
    return min(refused, key=value.index) if refused else None


def _refused_character(char: str, multiline: bool) -> Message | None:
    """Why `char` may not be in a text, in Dutch; None when it may."""
    if not _is_refused(char, multiline):
        return None
    kind = unicodedata.category(char)
    if kind == "Cc":
        if char in "\r\n":
            return N_("een regeleinde")
        if char == "\t":
            return N_("een tab")
        return N_("een stuurteken")
    if kind == "Cs":
        return N_("een losse surrogaat, geen geldig teken")
    if kind in ("Zl", "Zp"):
        return N_("een regel- of alineascheiding")
    if unicodedata.bidirectional(char) in _BIDI_CONTROLS:
        return N_("een teken dat de schrijfrichting omkeert")
    return N_("een onzichtbaar teken")


def refused_character(value: str, multiline: bool = False, subject: Message | None = None) -> Message | None:
    """Why `value` may not be stored as it is, in Dutch, naming the first character that
    clean_text's rule refuses (with its code point); None when it holds none. The value is
    taken as it is, white space around it included: for a text that is not stripped, such
    as a new password. `subject` names the text ("De tekst" when None)."""
    char = _first_refused(value, multiline)
    if char is None:
        return None
    why = _refused_character(char, multiline)
    if why is None:
        return None
    where = N_("in dit veld") if multiline or char not in "\r\n" else N_("in een veld van één regel")
    return Message(
        N_("{subject} bevat {why} (U+{code}); dat is {where} niet toegestaan."),
        subject=subject or N_("De tekst"),
        why=why,
        code=f"{ord(char):04X}",
        where=where,
    )


def required_note(value: Any, maxlength: int, missing: str, errors: dict[str, Any], field: str) -> str | None:
    """A required multi-line text of the product's own forms (a reason, a question) through
    clean_text: the cleaned text, or None with errors[field] set (clean_text's Dutch refusal,
    or `missing` when the value is absent, not text or white space only). Never raises."""
    try:
        text = clean_text(value, maxlength, multiline=True) if isinstance(value, str) else None
    except ValueError as exc:
        errors[field] = text_of(exc)
        return None
    if text is None:
        errors[field] = missing
    return text


_TRIMMED = "\t\n\v\f\r \u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + \
    "\u2028\u2029\u202f\u205f\u3000"


TOO_LONG = N_("Maximaal {n} tekens (nu {length}).")  # a text over its field's bound


def one_kind_of_line_break(value: str) -> str:
    """`value` with each CR LF (how a browser submits a textarea's line breaks) and each lone
    CR as a newline: how a multi-line text is checked and stored, by clean_text and by a
    draft (engine/drafts.py) alike."""
    return value.replace("\r\n", "\n").replace("\r", "\n")


def trimmed(value: str) -> str:
    """`value` without the white space around it, as clean_text reads every answer (see the
    note in clean_text on which characters): "" for white space alone, which is no answer.
    Used by clean_text and by a draft (engine/drafts.py), so both read a text alike."""
    return value.strip(_TRIMMED)


def clean_text(value: Any, maxlength: int | None = None, multiline: bool = False) -> str | None:
    """A submitted text as it is stored: without white space around it, None when nothing is
    left (white space alone is no answer).

    The one text rule of every door (API, web form, command line; start_case and every form
    field). A single-line text (a client reference, a field of type "string") holds no control
    character at all; a multi-line text (type "text") may hold newlines and tabs (a CR LF from
    a browser's textarea, or a lone CR, is stored as a newline). Both refuse the other C0/C1
    controls and every other character of the Unicode categories Cf, Zl, Zp and Cs: bidi
    embeddings, overrides, isolates and marks (LRM, RLM, ALM), invisible spaces, line
    separators and lone surrogates (see the notes above _is_refused; issue 11 point 3); the
    zero-width (non-)joiner stays allowed.
    Raises ValueError with a Dutch message for a value that is not text, holds a refused
    character (named with its code point) or is longer than maxlength.
    """
    if not isinstance(value, str):
        raise ValueError(N_("Vul tekst in."))
    if multiline:
        value = one_kind_of_line_break(value)
    # White space around the text is dropped first: a trailing newline pasted along with a
    # reference is no reason to refuse it, as nothing of it is stored. Exactly what the task
    # page's JavaScript trim() drops (ECMA-262 WhiteSpace and LineTerminator), so the page and
    # the server read one answer: str.strip() also dropped U+001C-001F and U+0085, which the
    # page kept (a condition 'x == "a"' then held on the server and not on the page). A byte
    # order mark (U+FEFF), which trim() drops too, stays refused as an invisible character
    # (issue 11 point 3): a refusal names it, so the two never disagree silently.
    value = trimmed(value)
    problem = refused_character(value, multiline)
    if problem is not None:
        raise ValueError(problem)
    if maxlength is not None and len(value) > maxlength:
        raise ValueError(Message(TOO_LONG, n=maxlength, length=len(value)))
    return value or None
