"""DIAN's numbering documents as PDFs: formato 1876 (the authorisation) and formato 1302 (the request).

The 1876 layout follows the casillas that two public PDF parsers read (research
dian-numeracion-oficial.md §6): 4 "Número de formulario" (= resolution number, 1876 + 10 digits),
30 modalidad (text + code), 31 prefijo, 32 rango desde, 33 rango hasta (thousands separator),
38 vigencia in months, the row type (AUTORIZACIÓN 1), 997 "Fecha formalización" and the stamp
"Fecha Acuse de Recibo / Firmado". Two pages; the data table is on page 2. Everything else on the
page (titles, other casillas) is our reconstruction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from fpdf import FPDF

MODALIDADES = {
    "1": "FACTURA ELECTRÓNICA DE VENTA",
    "2": "FACTURA DE TALONARIO O DE PAPEL",
    "3": "D.E. / P.O.S.",
    "6": "DOCUMENTO SOPORTE",
}
TIPOS_SOLICITUD = {"AUTORIZACIÓN": "1", "HABILITACIÓN": "2", "INHABILITACIÓN": "3"}


@dataclass(frozen=True)
class FilaNumeracion:
    """One row of a numbering form: modality code, prefix and range."""

    modalidad: str  # code, see MODALIDADES
    prefijo: str
    desde: int
    hasta: int
    tipo: str = "AUTORIZACIÓN"

    @property
    def modalidad_texto(self) -> str:
        return MODALIDADES.get(self.modalidad, self.modalidad)


@dataclass(frozen=True)
class Declarante:
    nit: str
    dv: int
    razon_social: str


def _stamp(value: datetime) -> str:
    hour = value.hour % 12 or 12
    return f"{value:%Y-%m-%d} / {hour:02d}:{value:%M:%S} {'AM' if value.hour < 12 else 'PM'}"


class _Formulario(FPDF):
    def __init__(self, numero_formato: str, titulo: str) -> None:
        super().__init__(orientation="P", unit="mm", format="Letter")
        self.numero_formato = numero_formato
        self.titulo = titulo
        self.set_auto_page_break(auto=True, margin=15)
        self.set_margins(15, 15, 15)

    def header(self) -> None:
        self.set_font("Helvetica", "B", 16)
        self.cell(30, 12, "DIAN", border=1, align="C")
        self.set_font("Helvetica", "B", 11)
        self.cell(125, 12, self.titulo, border=1, align="C")
        self.set_font("Helvetica", "B", 16)
        self.cell(0, 12, self.numero_formato, border=1, align="C", new_x="LMARGIN", new_y="NEXT")
        self.ln(3)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 7)
        self.cell(0, 5, f"Formato {self.numero_formato} - Página {self.page_no()}/{{nb}}", align="C")

    def casilla(self, numero: str, etiqueta: str, valor: str, ancho: float = 0, salto: bool = True) -> None:
        self.set_font("Helvetica", "", 7)
        x, y = self.get_x(), self.get_y()
        w = ancho or (self.w - self.r_margin - x)
        label = f"{numero}. {etiqueta}" if numero else etiqueta
        self.multi_cell(w, 4, label, border="LTR", new_x="RIGHT", new_y="TOP")
        self.set_xy(x, y + 4)
        self.set_font("Helvetica", "B", 10)
        self.cell(w, 7, valor, border="LBR", new_x="LMARGIN" if salto else "RIGHT", new_y="NEXT" if salto else "TOP")
        if not salto:
            self.set_xy(x + w, y)


def _datos_declarante(pdf: _Formulario, declarante: Declarante) -> None:
    pdf.set_font("Helvetica", "B", 9)
    pdf.cell(0, 6, "Datos del solicitante", new_x="LMARGIN", new_y="NEXT")
    pdf.casilla("5", "Número de Identificación Tributaria (NIT)", declarante.nit, ancho=70, salto=False)
    pdf.casilla("6", "DV", str(declarante.dv), ancho=20, salto=False)
    pdf.casilla("11", "Razón social", declarante.razon_social)
    pdf.ln(3)


def _tabla(pdf: _Formulario, filas: Sequence[FilaNumeracion], vigencia_meses: int | None) -> None:
    widths = [58, 18, 26, 30, 20, 34]
    heads = ["30. Modalidad", "31. Prefijo", "32. Rango desde", "33. Rango hasta", "38. Vigencia", "Tipo"]
    pdf.set_font("Helvetica", "B", 8)
    for w, h in zip(widths, heads, strict=True):
        pdf.cell(w, 6, h, border=1, align="C")
    pdf.ln()
    pdf.set_font("Helvetica", "", 8)
    for fila in filas:
        values = [
            f"{fila.modalidad_texto} {fila.modalidad}",
            fila.prefijo,
            f"{fila.desde:,}",
            f"{fila.hasta:,}",
            str(vigencia_meses) if vigencia_meses is not None else "",
            f"{fila.tipo} {TIPOS_SOLICITUD.get(fila.tipo, '')}".strip(),
        ]
        for w, v in zip(widths, values, strict=True):
            pdf.cell(w, 6, v, border=1)
        pdf.ln()


def render_1876(
    *,
    numero: str,
    declarante: Declarante,
    filas: Sequence[FilaNumeracion],
    vigencia_meses: int,
    formalizada: datetime,
    numero_solicitud: str,
) -> bytes:
    """Formato 1876 "Autorización Numeración de Facturación" for a formalised request."""
    pdf = _Formulario("1876", "Autorización Numeración de Facturación")
    pdf.set_title(f"Formato 1876 {numero}")
    pdf.set_author("DIAN")
    pdf.add_page()
    pdf.casilla("4", "Número de formulario", numero, ancho=90, salto=False)
    pdf.casilla("24", "Nro. de Solicitud", numero_solicitud)
    pdf.ln(3)
    _datos_declarante(pdf, declarante)
    pdf.set_font("Helvetica", "", 9)
    pdf.multi_cell(
        0,
        5,
        "La Dirección de Impuestos y Aduanas Nacionales autoriza la numeración de facturación relacionada en "
        "la página siguiente, con la vigencia indicada en la casilla 38, contada a partir de la fecha de "
        "formalización.",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 9)
    pdf.cell(0, 6, "Detalle de la numeración autorizada", new_x="LMARGIN", new_y="NEXT")
    _tabla(pdf, filas, vigencia_meses)
    pdf.ln(4)
    pdf.casilla("997", "Fecha formalización", f"{formalizada:%Y-%m-%d}", ancho=60, salto=False)
    pdf.casilla("", "Fecha Acuse de Recibo / Firmado", _stamp(formalizada))
    return bytes(pdf.output())


def render_1302(
    *,
    numero: str,
    declarante: Declarante,
    filas: Sequence[FilaNumeracion],
    estado: str,
    fecha: datetime,
    numero_solicitud: str,
) -> bytes:
    """Formato 1302 "Solicitud sobre numeración de facturación" (the draft / definitive request)."""
    pdf = _Formulario("1302", "Solicitud sobre numeración de facturación")
    pdf.set_title(f"Formato 1302 {numero}")
    pdf.set_author("DIAN")
    pdf.add_page()
    pdf.casilla("4", "Número de formulario", numero, ancho=90, salto=False)
    pdf.casilla("24", "Nro. de Solicitud", numero_solicitud)
    pdf.ln(3)
    _datos_declarante(pdf, declarante)
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 8, estado, align="C", new_x="LMARGIN", new_y="NEXT")
    _tabla(pdf, filas, None)
    pdf.ln(4)
    pdf.casilla("", "Fecha", f"{fecha:%Y-%m-%d}")
    return bytes(pdf.output())
