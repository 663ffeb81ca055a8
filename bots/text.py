"""Text normalisation for matching what DIAN shows against what the operator wrote.

DIAN's labels vary in case, dashes and spacing between screens and manuals ("CADENA S. A." vs
"CADENA S.A.", "Proveedor - Software" vs "proveedor – software"). Compare through ``normalize``:

- Unicode NFC, then case-folded;
- en/em dashes, the Unicode hyphens and the minus sign become ``-``, always written `` - `` (so
  "S.A.–Software" and "S.A. - Software" compare equal; a UUID normalises the same way on both sides);
- runs of whitespace (non-breaking spaces included) collapse to one space, trimmed;
- the spaces inside initials disappear: ``S. A.`` → ``s.a.``, ``S. A. S`` → ``s.a.s``.

Accents are kept: "Cédula" and "Cedula" are different words for DIAN. Use these helpers to
*compare*; never type a normalised value into a form.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

__all__ = ["contains", "find_all", "find_one", "fold", "normalize", "same", "squash"]

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


def fold(text: str | None) -> str:
    """``normalize`` without accents, for labels whose exact spelling is not known (headers, DIAN's
    messages): "Cédula de Ciudadanía" → "cedula de ciudadania". Never for values the robot types."""
    decomposed = unicodedata.normalize("NFKD", normalize(text))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def squash(text: str | None) -> str:
    """Whitespace collapsed and trimmed: a text as a person reads it (case and accents kept)."""
    return " ".join((text or "").split())


def same(a: str | None, b: str | None) -> bool:
    """True when both texts normalise to the same string."""
    return normalize(a) == normalize(b)


def contains(haystack: str | None, needle: str | None) -> bool:
    """True when the normalised ``needle`` occurs in the normalised ``haystack`` (empty needle: False)."""
    wanted = normalize(needle)
    return bool(wanted) and wanted in normalize(haystack)


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
