"""Input checks done before any browser or network work.

Every validator returns the normalised value or raises ``bots.errors.InvalidInput`` (a
``ValueError``) with a Spanish message for the operator, so it can be used directly in argparse
``type=`` callables and in pydantic validators.
"""

from __future__ import annotations

import re

from bots.errors import InvalidInput

# DIAN's weights for the NIT check digit ("dígito de verificación"), applied from the rightmost digit.
NIT_WEIGHTS = (3, 7, 13, 17, 19, 23, 29, 37, 41, 43, 47, 53, 59, 67, 71)

_NIT_RE = re.compile(r"^(?P<base>\d{1,15})(?:\s*-\s*(?P<dv>\d))?$")
_PREFIX_RE = re.compile(r"^[A-Z0-9]{1,4}$")
# Deliberately simple: one "@", no spaces, a dot in the domain. DIAN validates the rest.
_EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")
_DOC_DIGITS_RE = re.compile(r"^\d{3,15}$")
_DOC_ALNUM_RE = re.compile(r"^[A-Z0-9]{3,20}$")
# A UUID as DIAN shows it (Software Id, TestSetId): 8-4-4-4-12 hexadecimal digits, any letter case.
# Braces, "urn:uuid:" and the 32-digit form without dashes are not accepted: DIAN never shows them.
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def nit_check_digit(nit: str) -> int:
    """DIAN check digit of a NIT given as digits only (no DV): weighted sum mod 11.

    r = sum(digit_i * weight_i) % 11, digits taken from the right; the DV is r if r is 0 or 1,
    else 11 - r.
    """
    digits = str(nit).strip()
    if not digits.isdigit() or not digits.isascii():
        raise InvalidInput(f"El NIT {nit!r} debe tener solo dígitos (sin puntos ni dígito de verificación).")
    if len(digits) > len(NIT_WEIGHTS):
        raise InvalidInput(f"El NIT {nit!r} tiene más de {len(NIT_WEIGHTS)} dígitos.")
    total = sum(int(d) * w for d, w in zip(reversed(digits), NIT_WEIGHTS, strict=False))
    r = total % 11
    return r if r in (0, 1) else 11 - r


def validate_nit(value: str) -> str:
    """Return the base NIT (digits, no DV) from "900123456", "900.123.456-8" or "900123456-8".

    A DV given after a hyphen must be the right one; a NIT with a wrong DV is an error (it is
    usually a typo in the base number).
    """
    text = str(value).strip().replace(".", "").replace(" ", "")
    match = _NIT_RE.match(text)
    if not match:
        raise InvalidInput(
            f"NIT inválido: {value!r}. Escríbalo como 900123456 o 900.123.456-8 (dígito de verificación opcional)."
        )
    base = match["base"].lstrip("0") or "0"
    if len(base) < 3:
        raise InvalidInput(f"NIT inválido: {value!r} es demasiado corto.")
    if match["dv"] is not None:
        expected = nit_check_digit(base)
        if int(match["dv"]) != expected:
            raise InvalidInput(
                f"El dígito de verificación de {value!r} no corresponde: para el NIT {base} es {expected}."
            )
    return base


def format_nit(nit: str) -> str:
    """Base NIT with its DV, as DIAN prints it: ``900123456-8``."""
    base = validate_nit(nit)
    return f"{base}-{nit_check_digit(base)}"


def validate_prefix(prefix: str) -> str:
    """Return the prefix in upper case: 1 to 4 letters or digits, not ending in a digit.

    DIAN allows up to 4 alphanumeric characters; a final digit would run into the invoice number
    (prefix "FE1" + number 5 reads as "FE15").
    """
    text = str(prefix).strip().upper()
    if not text:
        raise InvalidInput("El prefijo está vacío: use de 1 a 4 letras o dígitos, por ejemplo SETP o FE.")
    if not text.isascii() or not _PREFIX_RE.match(text):
        raise InvalidInput(
            f"Prefijo inválido: {prefix!r}. Use de 1 a 4 letras (A-Z) o dígitos, sin espacios ni símbolos."
        )
    if text[-1].isdigit():
        raise InvalidInput(f"Prefijo inválido: {prefix!r} no puede terminar en un dígito.")
    return text


def validate_range(desde: int | str, hasta: int | str) -> tuple[int, int]:
    """Return (desde, hasta) as ints, requiring 1 <= desde <= hasta."""
    try:
        low, high = int(str(desde).strip()), int(str(hasta).strip())
    except ValueError:
        raise InvalidInput(f"Rango inválido: {desde!r} a {hasta!r} deben ser números enteros.") from None
    if low < 1:
        raise InvalidInput(f"Rango inválido: 'desde' ({low}) debe ser 1 o mayor.")
    if low > high:
        raise InvalidInput(f"Rango inválido: 'desde' ({low}) es mayor que 'hasta' ({high}).")
    return low, high


def validate_email(value: str) -> str:
    """Return the e-mail address stripped, with the domain in lower case."""
    text = str(value).strip()
    if not _EMAIL_RE.match(text) or ".." in text:
        raise InvalidInput(f"Correo electrónico inválido: {value!r}.")
    local, domain = text.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def is_uuid(value: str | None) -> bool:
    """True for a UUID in DIAN's form (8-4-4-4-12 hex digits, any case, surrounding spaces ignored)."""
    return value is not None and bool(_UUID_RE.match(str(value).strip().lower()))


def validate_uuid(value: str) -> str:
    """Return a UUID (e.g. DIAN's software id) in canonical lower-case form (the rule of ``is_uuid``)."""
    if not is_uuid(value):
        raise InvalidInput(
            f"Identificador inválido: {value!r}. Se espera un UUID como 3fa85f64-5717-4562-b3fc-2c963f66afa6."
        )
    return str(value).strip().lower()


def validate_document_number(value: str | int, *, alphanumeric: bool = False) -> str:
    """Return an identity document number without dots or spaces.

    Digits only (3–15) for cédulas and NITs; letters and digits (3–20) when ``alphanumeric``
    (pasaporte, PEP, foreign documents).
    """
    text = str(value).strip().replace(".", "").replace(" ", "").upper()
    pattern = _DOC_ALNUM_RE if alphanumeric else _DOC_DIGITS_RE
    if not text.isascii() or not pattern.match(text):
        kind = "letras y dígitos" if alphanumeric else "solo dígitos"
        raise InvalidInput(f"Número de documento inválido: {value!r} (se esperan {kind}).")
    return text
