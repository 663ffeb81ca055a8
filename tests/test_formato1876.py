"""The formato 1876 parser (pure function over PDF bytes)."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from fpdf import FPDF

from bots.formato1876 import Formato1876Error, parse_formato_1876, sumar_meses, texto_pdf
from sandbox.formato1876 import Declarante, FilaNumeracion, render_1302, render_1876

DECLARANTE = Declarante("900123456", 8, "EMPRESA DEMO S.A.S.")


def _pdf(*lines: str) -> bytes:
    """A one-page PDF with these lines of text (Helvetica, like DIAN's forms)."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=9)
    for line in lines:
        pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def test_sandbox_1876_one_row() -> None:
    data = render_1876(
        numero="18764031407250",
        declarante=DECLARANTE,
        filas=[FilaNumeracion("1", "FE", 1, 5000)],
        vigencia_meses=24,
        formalizada=datetime(2026, 1, 15, 16, 58, 56),
        numero_solicitud="11662816",
    )
    r = parse_formato_1876(data)
    assert (r.numero, r.prefijo, r.desde, r.hasta, r.vigencia_meses) == ("18764031407250", "FE", 1, 5000, 24)
    assert r.rangos[0].modalidad == "FACTURA ELECTRÓNICA DE VENTA" and r.rangos[0].modalidad_codigo == "1"
    assert r.rangos[0].tipo == "AUTORIZACIÓN" and r.rangos[0].tipo_codigo == "1"
    assert r.fecha_formalizacion == date(2026, 1, 15)
    assert r.fecha_acuse == datetime(2026, 1, 15, 16, 58, 56)
    assert (r.numero_solicitud, r.nit, r.dv, r.razon_social) == ("11662816", "900123456", "8", "EMPRESA DEMO S.A.S.")
    assert r.vigente_desde == date(2026, 1, 15) and r.vigente_hasta == date(2028, 1, 14)
    assert r.rango("fe", 1, 5000) is r.rangos[0] and r.rango("FE", 1, 5001) is None
    summary = r.a_dict()
    assert summary["resolucion"] == "18764031407250" and summary["vigente_hasta"] == "2028-01-14"


def test_several_rows_empty_prefix_and_separators() -> None:
    data = render_1876(
        numero="18764107498052",
        declarante=DECLARANTE,
        filas=[
            FilaNumeracion("1", "FE", 1, 1_000_000),
            FilaNumeracion("6", "DSDS", 1, 2000),
            FilaNumeracion("3", "", 5, 90),
        ],
        vigencia_meses=12,
        formalizada=datetime(2026, 1, 31, 9, 0, 0),
        numero_solicitud="11662817",
    )
    r = parse_formato_1876(data)
    assert [(x.modalidad, x.prefijo, x.desde, x.hasta) for x in r.rangos] == [
        ("FACTURA ELECTRÓNICA DE VENTA", "FE", 1, 1_000_000),
        ("DOCUMENTO SOPORTE", "DSDS", 1, 2000),
        ("D.E. / P.O.S.", "", 5, 90),
    ]
    assert r.vigente_hasta == date(2027, 1, 30)  # 31 Jan + 12 months - 1 day


def test_real_layout_with_dots_habilitacion_and_acuse_only() -> None:
    data = _pdf(
        "Formulario 1876 Autorizacion Numeracion de Facturacion",
        "4. Número de formulario 18764081810977",
        "30. Modalidad 31. Prefijo 32. Rango desde 33. Rango hasta 38. Vigencia",
        "FACTURA ELECTRÓNICA DE VENTA 1 FV 1.001 2.000 18 HABILITACIÓN 2",
        "Fecha Acuse de Recibo / Firmado 2024-10-19 / 11:38:26 AM",
    )
    r = parse_formato_1876(data)
    assert (r.numero, r.prefijo, r.desde, r.hasta, r.vigencia_meses) == ("18764081810977", "FV", 1001, 2000, 18)
    assert r.rangos[0].tipo == "HABILITACIÓN"
    assert r.fecha_formalizacion is None and r.fecha_acuse == datetime(2024, 10, 19, 11, 38, 26)
    assert r.vigente_desde == date(2024, 10, 19) and r.vigente_hasta == date(2026, 4, 18)


def test_letter_spaced_text() -> None:
    data = _pdf(
        "4 .  N ú m e r o  d e  f o r m u l a r i o  1 8 7 6 4 0 3 9 1 9 8 3 4 0",
        "D O C U M E N T O  S O P O R T E  6  D S D S  1  2 , 0 0 0  2 4  A U T O R I Z A C I Ó N  1",
        "9 9 7 .  F e c h a  f o r m a l i z a c i ó n  2 0 2 4 - 1 0 - 1 9",
    )
    r = parse_formato_1876(data)
    assert (r.numero, r.prefijo, r.desde, r.hasta, r.vigencia_meses) == ("18764039198340", "DSDS", 1, 2000, 24)
    assert r.rangos[0].modalidad == "DOCUMENTO SOPORTE"
    assert r.fecha_formalizacion == date(2024, 10, 19)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"esto no es un PDF", "no es un PDF"),
        (b"%PDF-1.4 roto", "No se pudo leer"),
        (
            _pdf("Formulario sin numero", "FACTURA ELECTRÓNICA DE VENTA 1 FE 1 100 24 AUTORIZACIÓN 1"),
            "número de formulario",
        ),
        (_pdf("4. Número de formulario 18764081810977", "sin filas"), "ninguna fila"),
    ],
)
def test_unreadable(data: bytes, message: str) -> None:
    with pytest.raises(Formato1876Error, match=message):
        parse_formato_1876(data)


def test_image_only_pdf() -> None:
    pdf = FPDF()
    pdf.add_page()
    with pytest.raises(Formato1876Error, match="no tiene texto"):
        parse_formato_1876(bytes(pdf.output()))


def test_1302_is_not_a_1876_but_its_text_is_readable() -> None:
    data = render_1302(
        numero="13028058358053",
        declarante=DECLARANTE,
        filas=[FilaNumeracion("1", "FE", 1, 5000)],
        estado="BORRADOR",
        fecha=datetime(2026, 1, 15),
        numero_solicitud="11662816",
    )
    assert "FE 1 5,000" in texto_pdf(data)
    with pytest.raises(Formato1876Error):
        parse_formato_1876(data)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2026, 3, 15), 24, date(2028, 3, 15)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
    ],
)
def test_sumar_meses(start: date, months: int, expected: date) -> None:
    assert sumar_meses(start, months) == expected
