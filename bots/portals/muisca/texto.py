"""Text helpers for MUISCA screens, on top of ``bots.text``.

``plegar`` is ``bots.text.normalize`` without accents: for comparing labels and messages whose
exact spelling is not known (DIAN's error texts, table headers, what the operator typed in
``--tipo``). Values the robot types keep their accents.
"""

from __future__ import annotations

import re
import unicodedata

from bots.text import normalize


def plegar(text: str | None) -> str:
    """Normalised and without accents: "Cédula de Ciudadanía" → "cedula de ciudadania"."""
    decomposed = unicodedata.normalize("NFKD", normalize(text))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def iguales(a: str | None, b: str | None) -> bool:
    """Same label once folded (case, accents, spacing, dashes)."""
    return plegar(a) == plegar(b)


def contiene(text: str | None, fragment: str) -> bool:
    """``fragment`` appears in ``text`` once both are folded."""
    return bool(fragment) and plegar(fragment) in plegar(text)


def digitos(text: str | None) -> str:
    """Only the digits of ``text`` ("900.123.456-8" → "9001234568")."""
    return re.sub(r"\D", "", text or "")


def entero(text: str | None) -> int | None:
    """An integer printed with or without thousands separators ("5,000", "5.000", "5000"), else None."""
    value = (text or "").strip()
    if not re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+|\d+", value):
        return None
    return int(re.sub(r"[.,]", "", value))
