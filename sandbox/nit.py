"""The simulated DIAN's own NIT check digit ("dígito de verificación").

Written apart from the robot's rule (``bots.validation``) on purpose: the sandbox must not share the
robot's code, or a wrong rule would agree with itself. Orden Administrativa 4 de 1989: the digits of
the NIT, read left to right, are multiplied by the prime series ending in ..., 41, 37, 29, 23, 19,
17, 13, 7, 3 (the last digit by 3); the sum is taken modulo 11; a remainder of 0 or 1 is the check
digit itself, any other remainder r gives 11 - r.
"""

from __future__ import annotations

__all__ = ["digito_verificacion"]

# The series as DIAN's forms print it, most significant position first.
_SERIE = (71, 67, 59, 53, 47, 43, 41, 37, 29, 23, 19, 17, 13, 7, 3)


def digito_verificacion(nit: str | int) -> int:
    """The check digit of a NIT of 1 to 15 digits (no dots, no check digit)."""
    texto = str(nit).strip()
    if not (texto.isascii() and texto.isdigit()) or len(texto) > len(_SERIE):
        raise ValueError(f"NIT sin forma de NIT: {nit!r}")
    pesos = _SERIE[len(_SERIE) - len(texto) :]
    residuo = sum(peso * int(cifra) for peso, cifra in zip(pesos, texto, strict=True)) % 11
    return residuo if residuo < 2 else 11 - residuo
