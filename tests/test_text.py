"""bots.text: the comparison forms every portal uses (normalize, fold, squash) and the finders."""

from __future__ import annotations

import pytest

from bots.text import (
    contains,
    contains_folded,
    find_all,
    find_one,
    fold,
    normalize,
    same,
    same_folded,
    squash,
    strip_accents,
)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("CADENA S. A.", "cadena s.a."),
        ("EMPRESA DEMO S. A. S", "Empresa Demo S.A.S"),
        ("Proveedor – Software", "proveedor - software"),  # en dash, spacing
        ("Proveedor—Software", "PROVEEDOR - SOFTWARE"),  # em dash, no spaces
        ("Ce\u0301dula", "Cédula"),  # NFD vs NFC
        ("  Set\u00a0de   pruebas\n", "set de pruebas"),  # non-breaking space, runs, newline
        ("Straße", "STRASSE"),  # case folding, not lower()
    ],
)
def test_normalize_makes_these_equal(a: str, b: str) -> None:
    assert same(a, b)


def test_normalize_keeps_accents_and_leaves_names_alone() -> None:
    assert not same("Cédula", "Cedula")
    assert normalize("A. Gómez") == "a. gómez"  # an initial before a name is not glued
    assert normalize(None) == normalize("") == ""


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Cédula de  Ciudadanía", "cedula de ciudadania"),
        ("AÑO Nº 5", "ano no 5"),  # ñ and the ordinal indicator fold too
        ("Facturación – Electrónica", "facturacion - electronica"),
        ("Ce\u0301dula", "cedula"),
        ("ＮＩＴ", "nit"),  # full-width letters (compatibility forms)
        (None, ""),
    ],
)
def test_fold_drops_accents_on_top_of_normalize(text: str | None, folded: str) -> None:
    assert fold(text) == folded


def test_folded_comparisons() -> None:
    assert same_folded("Cédula de ciudadanía", "CEDULA DE CIUDADANIA")
    assert not same_folded("Cédula", "Cédulas")
    assert contains_folded("La solicitud fue RECHAZADA por la DIAN", "rechazada")
    assert contains_folded("Número de autorización: 18760000001", "numero de autorizacion")
    assert not contains_folded("algo", "") and not contains_folded(None, "x")
    assert contains("Proveedor – Software", "proveedor - soft")
    assert not contains("Cédula", "cedula")  # accents count without folding


def test_squash_only_collapses_whitespace() -> None:
    assert squash("  Su  solicitud\u00a0fue\n\tregistrada. ") == "Su solicitud fue registrada."
    assert squash("Cédula – S. A.") == "Cédula – S. A."  # case, accents, dashes untouched
    assert squash(None) == squash("") == squash("   ") == ""


def test_strip_accents() -> None:
    assert strip_accents("Árbol, pingüino, Ñandú") == "Arbol, pinguino, Nandu"
    assert strip_accents(None) == ""


def test_finders() -> None:
    options = ["Cadena S.A.", "CADENA S. A. - Software", "Otro proveedor"]
    assert find_all(options, "cadena s. a.") == [0]
    assert find_one(options, "cadena s.a. – software") == 1
    assert find_one(["A", "a"], "A") is None  # two matches: ambiguous
    assert find_one(options, ["no existe", "otro  proveedor"]) == 2
