"""``python -m flows.rangos``: the read-only consultation, and the two actions that are not automated."""

from __future__ import annotations

import pytest

from sandbox.muisca_state import set_stage
from tests.fixtures_numeracion import Numeracion


@pytest.mark.browser
def test_consultar_lista_las_solicitudes_sin_cambiar_nada(numeracion: Numeracion) -> None:
    num = numeracion
    formalizada = set_stage(num.world, num.nit, "formalizada", prefijo="FE", desde=1, hasta=1000)
    assert formalizada is not None
    result = num.flujo("rangos", "consultar", "--cliente", num.nit, "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    data = result.json["data"]
    [fila] = data["solicitudes"]
    assert (fila["estado"], fila["prefijo"], fila["desde"], fila["hasta"]) == ("FORMALIZADO", "FE", 1, 1000)
    assert fila["resolucion"] == formalizada.resolucion and fila["nro_solicitud"] == formalizada.numero
    assert data["por_formalizar"] == []
    # Read-only: one login and nothing else journaled by DIAN; never through "Solicitar" (no AVISO).
    assert [e.action for e in num.world.journal.entries(num.nit)] == ["login"]
    assert not any(e["event"] == "aviso de MUISCA" for e in result.log)
    num.sin_secretos()


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["habilitar", "--prefijo", "FE", "--desde", "1", "--hasta", "1000"], "pantalla_no_mapeada"),
        (["inhabilitar", "--prefijo", "FE", "--desde", "501", "--hasta", "1000"], "aprobacion"),
        (["inhabilitar", "--prefijo", "FE", "--desde", "501", "--hasta", "1000", "--confirmar"], "aprobacion"),
        (
            [
                "inhabilitar",
                "--prefijo",
                "FE",
                "--desde",
                "501",
                "--hasta",
                "1000",
                "--confirmar",
                "--aprobacion",
                "Ana Gómez, representante legal, correo del 2026-03-20",
            ],
            "pantalla_no_mapeada",
        ),
    ],
)
def test_habilitar_e_inhabilitar_se_detienen_sin_navegador(
    numeracion: Numeracion, args: list[str], reason: str
) -> None:
    num = numeracion
    result = num.flujo("rangos", *args, "--cliente", num.nit, "--json")
    assert result.returncode == 4, result.stderr[-3000:]
    assert result.json["status"] == "requiere_humano" and result.json["data"]["reason"] == reason
    assert num.world.journal.entries() == []
    assert not any(e["event"] in ("navegador iniciado", "inicio de la sesión del cliente") for e in result.log)


def test_rangos_entrada_invalida(numeracion: Numeracion) -> None:
    result = numeracion.flujo("rangos", "habilitar", "--cliente", numeracion.nit, "--prefijo", "FE", "--json")
    assert result.returncode == 2 and "necesita --prefijo, --desde y --hasta" in result.json["message"]


@pytest.mark.browser
def test_en_lote_sigue_el_contrato_de_flujos(numeracion: Numeracion) -> None:
    num = numeracion
    args = ["rangos", "inhabilitar", "--prefijo", "FE", "--desde", "1", "--hasta", "10", "--solo", num.nit, "--json"]
    result = num.flujo("lote", *args)
    assert result.returncode == 4, result.stderr[-3000:]
    [cliente] = result.json["data"]["resultados"]
    assert cliente["status"] == "requiere_humano" and cliente["data"]["reason"] == "aprobacion"
    assert num.world.journal.entries() == []
