"""Pydantic validation errors as Spanish lines for the operator (settings, clients file, selector files)."""

from __future__ import annotations

from pydantic import ValidationError

__all__ = ["spanish_errors"]

_ERROR_TEXT = {
    "missing": "falta este campo",
    "extra_forbidden": "campo desconocido (¿error de escritura?)",
    "string_type": "debe ser texto entre comillas",
    "string_too_short": "no puede estar vacío",
    "int_type": "debe ser un número entero",
    "int_parsing": "debe ser un número entero",
    "float_parsing": "debe ser un número",
    "bool_type": "debe ser true o false",
    "bool_parsing": "debe ser true o false",
    "date_type": "debe ser una fecha AAAA-MM-DD",
    "date_parsing": "debe ser una fecha AAAA-MM-DD",
    "date_from_datetime_parsing": "debe ser una fecha AAAA-MM-DD",
    "datetime_type": "debe ser fecha y hora, p. ej. 2026-03-01T10:00:00-05:00",
    "datetime_parsing": "debe ser fecha y hora, p. ej. 2026-03-01T10:00:00-05:00",
    "datetime_from_date_parsing": "debe ser fecha y hora, p. ej. 2026-03-01T10:00:00-05:00",
    "list_type": 'debe ser una lista, p. ej. ["INBOX"]',
    "tuple_type": 'debe ser una lista, p. ej. ["INBOX"]',
    "too_short": "no puede estar vacío",
    "dict_type": "debe ser una tabla TOML",
    "model_type": "debe ser una tabla TOML",
    "model_attributes_type": "debe ser una tabla TOML",
    "greater_than": "es demasiado pequeño",
    "greater_than_equal": "es demasiado pequeño",
    "less_than_equal": "es demasiado grande",
}


def spanish_errors(exc: ValidationError, *, prefix: str = "") -> list[str]:
    """Turn a pydantic ``ValidationError`` into Spanish lines ``campo: problema``."""
    lines = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(raíz)"
        kind = err["type"]
        if kind == "value_error":
            text = str(err.get("ctx", {}).get("error") or err["msg"]).removeprefix("Value error, ")
        elif kind == "literal_error":
            expected = str(err.get("ctx", {}).get("expected", "")).replace(" or ", " o ")
            text = f"valor {err.get('input')!r} no permitido; use {expected}"
        else:
            text = _ERROR_TEXT.get(kind, err["msg"])
        lines.append(f"{prefix.upper() + loc.upper() if prefix else loc}: {text}")
    return lines
