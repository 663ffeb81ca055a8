"""Text normalisation for matching what DIAN shows against what the operator wrote.

DIAN's labels vary in case, dashes and spacing between screens and manuals ("CADENA S. A." vs
"CADENA S.A.", "Proveedor - Software" vs "proveedor – software"). Compare through ``normalize``:

- Unicode NFC, then case-folded;
- en/em dashes, the Unicode hyphens and the minus sign become ``-``, always written `` - `` (so
  "S.A.–Software" and "S.A. - Software" compare equal; a UUID normalises the same way on both sides);
- runs of whitespace (non-breaking spaces included) collapse to one space, trimmed;
- the spaces inside initials disappear: ``S. A.`` → ``s.a.``, ``S. A. S`` → ``s.a.s``.

Accents are kept by ``normalize``: "Cédula" and "Cedula" are different words for DIAN. Where the
exact spelling is not known (DIAN's error texts, table headers, what the operator typed) compare
through ``fold``, which also drops accents and compatibility forms ("Cédula" = "cedula"; "ñ" = "n").
``squash`` only collapses whitespace: texts as a person reads them, for messages and reports.

Use these helpers to *compare*; never type a normalised or folded value into a form.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

__all__ = [
    "contains",
    "contains_folded",
    "digits",
    "find_all",
    "find_one",
    "fold",
    "integer",
    "normalize",
    "same",
    "same_folded",
    "squash",
    "strip_accents",
]

_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"), "-")
# "S. A." / "S. A. S" / "S. A. S.": a single letter and a dot, spaces, then another single letter
# (a whole word, dotted or not). "A. Gómez" is left alone.
_INITIALS = re.compile(r"(?<![^\W\d_])([^\W\d_])\.\s+(?=[^\W\d_](?:\.|(?![^\W\d_])))")
_DASH = re.compile(r"\s*-\s*")


def normalize(text: str | None) -> str:
    """The comparable form of a label (see the module docstring)."""
    if not text:
        return ""
    value = unicodedata.normalize("NFC", str(text)).translate(_DASHES)
    value = " ".join(value.split())
    value = _INITIALS.sub(r"\1.", value)
    value = _DASH.sub(" - ", value)
    return value.casefold()


def squash(text: str | None) -> str:
    """Whitespace collapsed and trimmed (non-breaking spaces and newlines included): a text as a person
    reads it (case, accents and dashes kept)."""
    return " ".join(str(text).split()) if text else ""


def strip_accents(text: str | None) -> str:
    """``text`` without combining marks, after compatibility decomposition (NFKD): "Año Nº" → "Ano No"."""
    if not text:
        return ""
    return "".join(ch for ch in unicodedata.normalize("NFKD", str(text)) if not unicodedata.combining(ch))


def fold(text: str | None) -> str:
    """``normalize`` without accents, for labels whose exact spelling is not known (headers, DIAN's
    messages): "Cédula de  Ciudadanía" → "cedula de ciudadania". Never for values the robot types."""
    return strip_accents(normalize(text))


def same(a: str | None, b: str | None) -> bool:
    """True when both texts normalise to the same string."""
    return normalize(a) == normalize(b)


def contains(haystack: str | None, needle: str | None) -> bool:
    """True when the normalised ``needle`` occurs in the normalised ``haystack`` (empty needle: False)."""
    wanted = normalize(needle)
    return bool(wanted) and wanted in normalize(haystack)


def same_folded(a: str | None, b: str | None) -> bool:
    """True when both texts fold to the same string (case, accents, spacing, dashes ignored)."""
    return fold(a) == fold(b)


def contains_folded(haystack: str | None, needle: str | None) -> bool:
    """True when the folded ``needle`` occurs in the folded ``haystack`` (empty needle: False)."""
    wanted = fold(needle)
    return bool(wanted) and wanted in fold(haystack)


def digits(text: str | None) -> str:
    """Only the digits of ``text`` ("900.123.456-8" → "9001234568")."""
    return re.sub(r"\D", "", text or "")


def integer(text: str | None) -> int | None:
    """An integer printed with or without thousands separators ("5,000", "5.000", "5000"), else None."""
    value = (text or "").strip()
    if not re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+|\d+", value):
        return None
    return int(re.sub(r"[.,]", "", value))


def find_all(candidates: Iterable[str], wanted: str) -> list[int]:
    """Indexes of the candidates equal to ``wanted`` once normalised."""
    key = normalize(wanted)
    return [i for i, text in enumerate(candidates) if normalize(text) == key]


def find_one(candidates: Sequence[str], wanted: str | Iterable[str]) -> int | None:
    """Index of the single candidate equal to ``wanted`` (or to the first of several spellings that
    matches exactly one candidate); None when nothing or more than one candidate matches."""
    spellings = [wanted] if isinstance(wanted, str) else list(wanted)
    for spelling in spellings:
        hits = find_all(candidates, spelling)
        if len(hits) == 1:
            return hits[0]
    return None
