"""Input validation: NIT check digits, prefixes, ranges, e-mails, UUIDs, document numbers."""

from __future__ import annotations

import pytest

from bots.errors import InvalidInput
from bots.validation import (
    format_nit,
    is_uuid,
    nit_check_digit,
    validate_document_number,
    validate_email,
    validate_nit,
    validate_prefix,
    validate_range,
    validate_uuid,
)


def test_check_digit_worked_by_hand() -> None:
    # 900123456, digits from the right × weights 3, 7, 13, 17, 19, 23, 29, 37, 41:
    # 6·3 + 5·7 + 4·13 + 3·17 + 2·19 + 1·23 + 0·29 + 0·37 + 9·41 = 586; 586 mod 11 = 3; DV = 11 − 3 = 8.
    assert 6 * 3 + 5 * 7 + 4 * 13 + 3 * 17 + 2 * 19 + 1 * 23 + 9 * 41 == 586
    assert nit_check_digit("900123456") == 8


@pytest.mark.parametrize(
    ("nit", "dv"),
    [
        ("800197268", 4),  # DIAN itself
        ("899999068", 1),  # Ecopetrol
        ("890903938", 8),  # Bancolombia
        ("890900608", 9),  # Almacenes Éxito
        ("1020304050", 8),  # a cédula-based NIT (10 digits)
    ],
)
def test_check_digit_of_public_nits(nit: str, dv: int) -> None:
    assert nit_check_digit(nit) == dv


def test_check_digit_residues_zero_and_one_are_kept() -> None:
    # r = 0 → DV 0 and r = 1 → DV 1 (not 11 and 10).
    found = {nit_check_digit(str(n)) for n in range(100000, 100400)}
    assert found <= set(range(10))
    assert 0 in found and 1 in found
    # "11": 1·3 + 1·7 = 10 → r = 10 → DV 1; "3": 3·3 = 9 → DV 2; "4": 12 mod 11 = 1 → DV 1
    assert nit_check_digit("11") == 1
    assert nit_check_digit("3") == 2
    assert nit_check_digit("4") == 1


@pytest.mark.parametrize("bad", ["", "90012345A", "900.123.456", "1" * 16, "９００"])
def test_check_digit_rejects_non_digits(bad: str) -> None:
    with pytest.raises(ValueError):
        nit_check_digit(bad)


@pytest.mark.parametrize("value", ["900123456", "900.123.456-8", "900123456-8", " 900123456 - 8 ", "900 123 456"])
def test_validate_nit_accepts_common_forms(value: str) -> None:
    assert validate_nit(value) == "900123456"


def test_validate_nit_rejects_wrong_check_digit_in_spanish() -> None:
    with pytest.raises(InvalidInput, match=r"dígito de verificación.*es 8"):
        validate_nit("900123456-7")


@pytest.mark.parametrize("bad", ["", "abc", "900123456-", "900-123-456", "12", "900123456-88"])
def test_validate_nit_rejects_garbage(bad: str) -> None:
    with pytest.raises(ValueError, match=r"NIT|dígito"):
        validate_nit(bad)


def test_invalid_input_is_a_value_error_with_exit_code_2() -> None:
    with pytest.raises(ValueError) as info:
        validate_nit("x")
    assert isinstance(info.value, InvalidInput)
    assert info.value.exit_code == 2


def test_format_nit() -> None:
    assert format_nit("900.123.456") == "900123456-8"


@pytest.mark.parametrize(("raw", "clean"), [("setp", "SETP"), ("FE", "FE"), (" a1b ", "A1B"), ("Z", "Z"), ("1a", "1A")])
def test_prefix_ok(raw: str, clean: str) -> None:
    assert validate_prefix(raw) == clean


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "vacío"),
        ("FE1", "terminar en un dígito"),
        ("12", "terminar en un dígito"),
        ("ABCDE", "1 a 4"),
        ("F-E", "1 a 4"),
        ("FÑ", "1 a 4"),
        ("F E", "1 a 4"),
    ],
)
def test_prefix_errors_in_spanish(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_prefix(raw)


def test_ranges() -> None:
    assert validate_range(1, 5000) == (1, 5000)
    assert validate_range("990000", "995000") == (990000, 995000)
    assert validate_range(7, 7) == (7, 7)
    with pytest.raises(ValueError, match="mayor que"):
        validate_range(10, 9)
    with pytest.raises(ValueError, match="1 o mayor"):
        validate_range(0, 9)
    with pytest.raises(ValueError, match="enteros"):
        validate_range("uno", 9)


def test_email() -> None:
    assert validate_email(" Facturacion@Empresa-Demo.TEST ") == "Facturacion@empresa-demo.test"
    for bad in ["", "sin-arroba", "a@b", "a b@c.co", "a@@c.co", "a..b@c.co"]:
        with pytest.raises(ValueError, match="Correo"):
            validate_email(bad)


def test_uuid() -> None:
    assert validate_uuid("3FA85F64-5717-4562-B3FC-2C963F66AFA6") == "3fa85f64-5717-4562-b3fc-2c963f66afa6"
    assert validate_uuid(" 3fa85f64-5717-4562-b3fc-2c963f66afa6\n") == "3fa85f64-5717-4562-b3fc-2c963f66afa6"
    with pytest.raises(ValueError, match="UUID"):
        validate_uuid("890930534efacturacadena")


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("3fa85f64-5717-4562-b3fc-2c963f66afa6", True),
        ("3FA85F64-5717-4562-B3FC-2C963F66AFA6", True),
        ("  3fa85f64-5717-4562-b3fc-2c963f66afa6 ", True),
        ("{3fa85f64-5717-4562-b3fc-2c963f66afa6}", False),  # uuid.UUID accepts these three; DIAN never shows them
        ("urn:uuid:3fa85f64-5717-4562-b3fc-2c963f66afa6", False),
        ("3fa85f6457174562b3fc2c963f66afa6", False),
        ("3fa85f64-5717-4562-b3fc-2c963f66afa", False),
        ("3fa85f64-5717-4562-b3fc-2c963f66afag", False),
        ("", False),
        (None, False),
    ],
)
def test_one_uuid_rule(value: str | None, ok: bool) -> None:
    """``is_uuid`` and ``validate_uuid`` are the same rule (the one the habilitación screens use too)."""
    assert is_uuid(value) is ok
    if value is not None:
        if ok:
            assert validate_uuid(value) == value.strip().lower()
        else:
            with pytest.raises(InvalidInput):
                validate_uuid(value)


def test_document_numbers() -> None:
    assert validate_document_number("1.020.304.050") == "1020304050"
    assert validate_document_number(1020304050) == "1020304050"
    assert validate_document_number("e12345", alphanumeric=True) == "E12345"
    with pytest.raises(ValueError, match="solo dígitos"):
        validate_document_number("E12345")
