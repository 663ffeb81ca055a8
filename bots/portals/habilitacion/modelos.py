"""Typed data read from the habilitación screens."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bots import validation
from bots.text import contains, normalize

DATE_FORMAT = "%d-%m-%Y"  # how the catalogue writes dates

# "Estado de aprobación" (H-03), DIAN's ContributorStatus names.
PENDIENTE = "Pendiente de registro"
REGISTRADO = "Registrado"
HABILITADO = "Habilitado"


def parse_dian_date(text: str | None) -> date | None:
    """``dd-mm-yyyy`` (also ``dd/mm/yyyy``) → date; None when empty or not a date."""
    value = (text or "").strip().replace("/", "-")
    if not value:
        return None
    try:
        return datetime.strptime(value, DATE_FORMAT).date()
    except ValueError:
        return None


def format_dian_date(value: date) -> str:
    """A date as the catalogue's date fields take it: ``dd-mm-yyyy``."""
    return value.strftime(DATE_FORMAT)


PIN_RE = re.compile(r"^[0-9]{4,10}$")


def is_pin(value: str | None) -> bool:
    """A software PIN as DIAN shows it: digits only (5 in every known case)."""
    return bool(value) and bool(PIN_RE.match(str(value).strip()))


# One UUID rule for the whole robot (8-4-4-4-12 hex, as DIAN shows Software Id and TestSetId).
is_uuid = validation.is_uuid


@dataclass(frozen=True)
class Aviso:
    """A notification shown by the portal: its text and whether it is a success."""

    texto: str
    exito: bool
    titulo: str = ""


@dataclass(frozen=True)
class EstadoFacturador:
    """H-03 "Facturador electrónico"."""

    nit: str
    razon_social: str
    estado: str
    correo_recepcion: str | None
    fecha_produccion: date | None

    @property
    def pendiente(self) -> bool:
        return contains(self.estado, "pendiente")

    @property
    def registrado(self) -> bool:
        """Registered (or further along: Habilitado)."""
        return normalize(self.estado) in (normalize(REGISTRADO), normalize(HABILITADO))

    @property
    def habilitado(self) -> bool:
        return normalize(self.estado) == normalize(HABILITADO)


@dataclass(frozen=True)
class ModoOperacion:
    """One row of H-06 "Listado de modos de operación asociados"."""

    modo: str
    registro: date | None
    estado: str
    software: str
    software_id: str
    pin: str
    url: str
    detalles_href: str | None = None

    @property
    def aceptado(self) -> bool:
        return contains(self.estado, "aceptado")

    @property
    def en_pruebas(self) -> bool:
        return contains(self.estado, "prueba") or contains(self.estado, "proceso")

    def public(self) -> dict[str, Any]:
        """The row without the PIN (for logs and the JSON result)."""
        return {
            "modo": self.modo,
            "registro": self.registro.isoformat() if self.registro else None,
            "estado": self.estado,
            "software": self.software,
            "software_id": self.software_id,
            "url": self.url,
        }


@dataclass(frozen=True)
class SetPruebas:
    """H-07 "Set de pruebas": the hidden TestSetId, the state (the alert's <strong>) and the software it is for."""

    test_set_id: str
    estado: str
    aviso: str
    software_id: str = ""
    pin: str = ""


@dataclass(frozen=True)
class FechasProduccion:
    """H-08: the dates DIAN proposes ("Fecha de habilitación", "Fecha inicio real producción")."""

    habilitacion: date | None
    produccion: date | None
