"""The robot's NIT check digit and the sandbox's own one agree with DIAN on real NITs, and with each other.

The two are written apart on purpose (bots/validation.py, sandbox/nit.py): the simulated DIAN must not
share the robot's rule, or a wrong rule would agree with itself. The real pairs below are public NITs of
public entities and large companies, as printed on their RUT and invoices.
"""

from __future__ import annotations

import random

import pytest

from bots.validation import nit_check_digit
from sandbox.nit import digito_verificacion

REAL_NITS = [
    ("800197268", 4),  # DIAN
    ("899999068", 1),  # Ecopetrol S.A.
    ("890903938", 8),  # Bancolombia S.A.
    ("890900608", 9),  # Almacenes Éxito S.A.
    ("890100577", 6),  # Avianca S.A.
    ("899999063", 3),  # Universidad Nacional de Colombia
    ("860034313", 7),  # Banco Davivienda S.A.
    ("860005224", 6),  # Bavaria S.A.
    ("890904996", 1),  # Empresas Públicas de Medellín E.S.P.
    ("900336004", 7),  # Colpensiones
]


@pytest.mark.parametrize(("nit", "dv"), REAL_NITS)
def test_robot_rule_matches_real_nits(nit: str, dv: int) -> None:
    assert nit_check_digit(nit) == dv


@pytest.mark.parametrize(("nit", "dv"), REAL_NITS)
def test_sandbox_rule_matches_real_nits(nit: str, dv: int) -> None:
    assert digito_verificacion(nit) == dv


def test_both_rules_agree_on_every_length_and_remainder() -> None:
    rng = random.Random(20260301)
    nits = [str(rng.randrange(10 ** (n - 1), 10**n)) for n in range(1, 16) for _ in range(200)]
    nits += ["0", "000123", "999999999999999"]
    assert {nit: digito_verificacion(nit) for nit in nits} == {nit: nit_check_digit(nit) for nit in nits}
    assert {digito_verificacion(nit) for nit in nits} == set(range(10))  # every branch of the rule taken


@pytest.mark.parametrize("bad", ["", "9001234567890123", "900.123.456", "９００"])
def test_sandbox_rule_refuses_what_is_not_a_nit(bad: str) -> None:
    with pytest.raises(ValueError):
        digito_verificacion(bad)
