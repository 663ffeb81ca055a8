"""Read DIAN's formato 1876 ("Autorización Numeración de Facturación") from its PDF.

``parse_formato_1876(pdf_bytes)`` is a pure function (no I/O besides reading the bytes given). The
layout follows the casillas two public parsers read from real PDFs (research
dian-numeracion-oficial.md §6): 4 "Número de formulario" (= resolution number, 1876…), 30
modalidad (text + code), 31 prefijo, 32 rango desde, 33 rango hasta (thousands separator), 38
vigencia in months, the row type (AUTORIZACIÓN 1 / HABILITACIÓN 2 / INHABILITACIÓN 3), 997 "Fecha
formalización" and the stamp "Fecha Acuse de Recibo / Firmado". One form may hold several rows.
Real PDFs sometimes space out characters ("2 0 2 4 - 1 0 - 1 9"); both shapes are read.

The validity end is computed as the start date plus the vigencia months, minus one day (the last
day inside the period); DIAN does not print it.
"""

from __future__ import annotations

import calendar
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bots.text import squash, strip_accents

__all__ = ["Formato1876Error", "Rango1876", "Resolucion1876", "parse_formato_1876", "sumar_meses", "texto_pdf"]

_TIPOS = ("AUTORIZACIÓN", "HABILITACIÓN", "INHABILITACIÓN")
_ROW = re.compile(
    r"(?P<modalidad>[A-ZÁÉÍÓÚÑÜ][A-ZÁÉÍÓÚÑÜ./ ]*?[A-ZÁÉÍÓÚÑÜ.])\s+(?P<modcod>\d{1,2})\s+"
    r"(?:(?P<prefijo>[A-Z0-9]{1,4})\s+)?(?P<desde>\d{1,3}(?:[.,]\d{3})+|\d+)\s+(?P<hasta>\d{1,3}(?:[.,]\d{3})+|\d+)\s+"
    r"(?P<vigencia>\d{1,3})\s+(?P<tipo>AUTORIZACI[OÓ]N|HABILITACI[OÓ]N|INHABILITACI[OÓ]N)(?:\s+(?P<tipocod>\d))?"
)
_NUMBER = re.compile(r"(?<!\d)1876\d{10,16}(?!\d)")
_NUMBER_LABELLED = re.compile(r"N[uú]mero\s+de\s+formulario\s*:?\s*(1876\d{10,16})(?!\d)", re.IGNORECASE)
_SOLICITUD = re.compile(r"Nro\.?\s+de\s+Solicitud\s*:?\s*(\d{5,12})(?!\d)", re.IGNORECASE)
_NIT = re.compile(r"\(NIT\)\s*:?\s*(\d{5,15})(?!\d)(?:\s+6\.\s*DV\s*:?\s*(\d))?", re.IGNORECASE)
_RAZON = re.compile(r"11\.\s*Raz[oó]n\s+social\s*:?\s*\n\s*(.+)", re.IGNORECASE)
_ISO_DATE = r"(\d{4})\s?-\s?(\d{1,2})\s?-\s?(\d{1,2})"
_FORMALIZACION = re.compile(r"Fecha\s+formalizaci[oó]n\s*:?\s*" + _ISO_DATE, re.IGNORECASE)
_ACUSE = re.compile(
    r"Fecha\s+Acuse\s+de\s+Recibo\s*/\s*Firmado\s*:?\s*"
    + _ISO_DATE
    + r"(?:\s*/\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AP])\.?\s*M\.?)?",
    re.IGNORECASE,
)


class Formato1876Error(ValueError):
    """The bytes are not a readable formato 1876 (not a PDF, no text, no resolution number)."""


@dataclass(frozen=True)
class Rango1876:
    """One authorised row: modality, prefix, range, vigencia and the row type."""

    modalidad: str
    modalidad_codigo: str
    prefijo: str
    desde: int
    hasta: int
    vigencia_meses: int
    tipo: str  # AUTORIZACIÓN | HABILITACIÓN | INHABILITACIÓN
    tipo_codigo: str | None = None


@dataclass(frozen=True)
class Resolucion1876:
    """What a formato 1876 says. ``prefijo``/``desde``/``hasta``/``vigencia_meses`` are those of the
    first row (most forms have one); ``rangos`` has them all."""

    numero: str
    rangos: tuple[Rango1876, ...]
    fecha_formalizacion: date | None
    fecha_acuse: datetime | None = None
    numero_solicitud: str | None = None
    nit: str | None = None
    dv: str | None = None
    razon_social: str | None = None
    texto: str = field(default="", repr=False, compare=False)

    @property
    def prefijo(self) -> str:
        return self.rangos[0].prefijo

    @property
    def desde(self) -> int:
        return self.rangos[0].desde

    @property
    def hasta(self) -> int:
        return self.rangos[0].hasta

    @property
    def vigencia_meses(self) -> int:
        return self.rangos[0].vigencia_meses

    @property
    def vigente_desde(self) -> date | None:
        """Start of validity: the formalisation date (else the acknowledgement date)."""
        if self.fecha_formalizacion is not None:
            return self.fecha_formalizacion
        return self.fecha_acuse.date() if self.fecha_acuse else None

    @property
    def vigente_hasta(self) -> date | None:
        """Last day of validity: start + vigencia months - 1 day (computed; DIAN does not print it)."""
        start = self.vigente_desde
        if start is None:
            return None
        return sumar_meses(start, self.vigencia_meses) - timedelta(days=1)

    def rango(self, prefijo: str, desde: int, hasta: int) -> Rango1876 | None:
        """The row with exactly this prefix and range, if any."""
        wanted = prefijo.strip().upper()
        return next((r for r in self.rangos if r.prefijo == wanted and r.desde == desde and r.hasta == hasta), None)

    def a_dict(self) -> dict[str, object]:
        """JSON-ready summary."""
        return {
            "resolucion": self.numero,
            "prefijo": self.prefijo,
            "desde": self.desde,
            "hasta": self.hasta,
            "tipo_facturacion": self.rangos[0].modalidad,
            "tipo_solicitud": self.rangos[0].tipo,
            "vigencia_meses": self.vigencia_meses,
            "fecha_formalizacion": self.fecha_formalizacion.isoformat() if self.fecha_formalizacion else None,
            "fecha_acuse": self.fecha_acuse.isoformat() if self.fecha_acuse else None,
            "vigente_desde": self.vigente_desde.isoformat() if self.vigente_desde else None,
            "vigente_hasta": self.vigente_hasta.isoformat() if self.vigente_hasta else None,
            "nro_solicitud": self.numero_solicitud,
            "rangos": [
                {
                    "tipo_facturacion": r.modalidad,
                    "prefijo": r.prefijo,
                    "desde": r.desde,
                    "hasta": r.hasta,
                    "vigencia_meses": r.vigencia_meses,
                    "tipo_solicitud": r.tipo,
                }
                for r in self.rangos
            ],
        }


def sumar_meses(value: date, months: int) -> date:
    """``value`` plus ``months`` calendar months, clamped to the month's last day (31 Jan + 1 = 28/29 Feb)."""
    month_index = value.month - 1 + months
    year, month = value.year + month_index // 12, month_index % 12 + 1
    return value.replace(year=year, month=month, day=min(value.day, calendar.monthrange(year, month)[1]))


def parse_formato_1876(pdf_bytes: bytes) -> Resolucion1876:
    """Parse a formato 1876 PDF. Raises ``Formato1876Error`` when it cannot be read as one."""
    text = _pdf_text(pdf_bytes)
    if not text.strip():
        raise Formato1876Error("El PDF no tiene texto legible (¿es una imagen escaneada?)")
    flat = _despace(text)
    single = squash(flat)

    match = _NUMBER_LABELLED.search(single) or _NUMBER.search(single)
    if match is None:
        raise Formato1876Error("El PDF no trae un número de formulario 1876 (14 dígitos que empiezan por 1876)")
    numero = match.group(1) if match.groups() else match.group(0)

    rangos = _rows(flat)
    if not rangos:
        raise Formato1876Error("El formato 1876 no trae ninguna fila de numeración legible (prefijo, rango, vigencia)")

    formalizacion = _FORMALIZACION.search(single)
    acuse = _ACUSE.search(single)
    solicitud = _SOLICITUD.search(single)
    nit = _NIT.search(single)
    razon = _RAZON.search(flat)
    return Resolucion1876(
        numero=numero,
        rangos=tuple(rangos),
        fecha_formalizacion=_date(*formalizacion.groups()) if formalizacion else None,
        fecha_acuse=_acuse(acuse) if acuse else None,
        numero_solicitud=solicitud.group(1) if solicitud else None,
        nit=nit.group(1) if nit else None,
        dv=nit.group(2) if nit and nit.group(2) else None,
        razon_social=razon.group(1).strip() if razon else None,
        texto=flat,
    )


def texto_pdf(pdf_bytes: bytes) -> str:
    """The text of a DIAN PDF (e.g. the formato 1302 draft), letter-spacing undone."""
    return _despace(_pdf_text(pdf_bytes))


# --- helpers ---------------------------------------------------------------------------------------


def _pdf_text(pdf_bytes: bytes) -> str:
    if not isinstance(pdf_bytes, bytes | bytearray) or not bytes(pdf_bytes[:1024]).lstrip().startswith(b"%PDF"):
        raise Formato1876Error("El documento no es un PDF")
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(bytes(pdf_bytes)))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise Formato1876Error(f"No se pudo leer el PDF: {type(exc).__name__}") from None
    return unicodedata.normalize("NFC", "\n".join(pages))


def _despace(text: str) -> str:
    """Undo letter-spacing ("2 0 2 4 - 1 0 - 1 9", "A U T O R I Z A C I Ó N") line by line.

    A line is treated as letter-spaced when most of its tokens are single characters; words are
    then separated by runs of two or more spaces, or kept together when the PDF gave no hint.
    """
    lines = []
    for line in text.splitlines():
        tokens = line.split()
        singles = sum(1 for t in tokens if len(t) == 1)
        if len(tokens) >= 6 and singles / len(tokens) > 0.7:
            words = re.split(r"\s{2,}", line.strip())
            line = " ".join(w.replace(" ", "") for w in words) if len(words) > 1 else _join_spaced(line)
        lines.append(line)
    return "\n".join(lines)


def _join_spaced(line: str) -> str:
    """A letter-spaced line without double spaces: glue characters, then split known words back."""
    glued = line.replace(" ", "")
    glued = re.sub(r"(\d)((?:AUTORIZACI|HABILITACI|INHABILITACI)[OÓ]N)", r"\1 \2", glued)
    glued = re.sub(r"((?:AUTORIZACI|HABILITACI|INHABILITACI)[OÓ]N)(\d)", r"\1 \2", glued)
    return glued


def _rows(text: str) -> list[Rango1876]:
    found: list[Rango1876] = []
    for line in text.splitlines():
        normal = squash(line).upper()
        for match in _ROW.finditer(normal):
            desde, hasta = _int(match["desde"]), _int(match["hasta"])
            if desde > hasta:
                continue
            tipo = next((t for t in _TIPOS if _fold(t) == _fold(match["tipo"])), match["tipo"])
            found.append(
                Rango1876(
                    modalidad=squash(match["modalidad"]),
                    modalidad_codigo=match["modcod"],
                    prefijo=match["prefijo"] or "",
                    desde=desde,
                    hasta=hasta,
                    vigencia_meses=int(match["vigencia"]),
                    tipo=tipo,
                    tipo_codigo=match["tipocod"],
                )
            )
    return found


def _int(value: str) -> int:
    return int(re.sub(r"[.,]", "", value))


def _fold(value: str) -> str:
    return strip_accents(value.upper())


def _date(year: str, month: str, day: str) -> date | None:
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def _acuse(match: re.Match[str]) -> datetime | None:
    year, month, day, hour, minute, second, meridiem = match.groups()
    day_value = _date(year, month, day)
    if day_value is None:
        return None
    if hour is None:
        return datetime(day_value.year, day_value.month, day_value.day)
    hour_i = int(hour)
    if meridiem:
        hour_i = hour_i % 12 + (12 if meridiem.upper() == "P" else 0)
    try:
        return datetime(day_value.year, day_value.month, day_value.day, hour_i, int(minute), int(second or 0))
    except ValueError:
        return None
