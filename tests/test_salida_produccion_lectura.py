""""Sincronizar" is read before it is clicked, even when the robot's journal knows nothing of it."""

from __future__ import annotations

import pytest

from sandbox.catalogo_state import set_stage
from tests.fixtures_robot import RobotEnv
from tests.fixtures_sandbox import DEMO_NIT

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_company_synchronised_by_hand_is_not_synchronised_again(robot_env: RobotEnv) -> None:
    # Given a company DIAN already shows in production (date registered and synchronised by hand),
    # and a robot with no journal for it,
    robot_env.add_client(DEMO_NIT)
    set_stage(robot_env.world, DEMO_NIT, "sincronizado", email=robot_env.profiles[DEMO_NIT]["correo_recepcion"])
    # when salida_produccion runs,
    result = robot_env.run("salida_produccion", "--cliente", DEMO_NIT, "--json")
    # then it reads the production site (a token login there), clicks nothing and says so.
    assert result.returncode == 0, result.stderr
    assert result.json is not None and result.json["status"] == "ya_hecho", result.stderr
    assert "ya estaba sincronizado" in result.json["message"]
    assert robot_env.world.journal.count(DEMO_NIT, "sincronizar_produccion") == 0
    assert robot_env.world.journal.count(DEMO_NIT, "registrar_fecha_produccion") == 0
