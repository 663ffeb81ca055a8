"""Demo: the simulated DIAN and its mail server on loopback, with demo companies at different stages.

    python -m sandbox [--port 8765] [--imap-port 1143] [--dir .run/demo]

Open the printed URLs in a browser to click through every process by hand, read the demo
mailboxes with any IMAP client, or point the robot at it with the printed settings file.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import shlex
from datetime import timedelta
from pathlib import Path

from sandbox import catalogo_state, demo, muisca_state
from sandbox.mail import ImapMailSink, PymapServer
from sandbox.server import SandboxServer
from sandbox.world import World

# (NIT, razón social, catalogue stage, MUISCA stage, what a person can try with it)
DEMO_COMPANIES = [
    ("900123456", "EMPRESA DEMO S.A.S.", "pendiente_registro", "sin_solicitud",
     "habilitación completa desde el registro; solicitud de numeración en MUISCA"),
    ("900555001", "COMERCIAL ANDINA DEMO S.A.S.", "aceptado", "definitivo",
     "set de pruebas aceptado: fecha de producción y S2; solicitud en DEFINITIVO por firmar"),
    ("900777002", "SERVICIOS DEL VALLE DEMO S.A.S.", "sincronizado", "formalizada",
     "habilitada y sincronizada; resolución visible: asociar el prefijo FE"),
    ("900888003", "TURNSTILE DEMO S.A.S.", "sincronizado", "sin_solicitud",
     "Turnstile interactivo: el robot debe pedir ayuda humana"),
]


def build_world(imap: PymapServer) -> World:
    """A world with the demo companies at their stages and their mailboxes on `imap`."""
    world = World(mail=ImapMailSink(imap, default_password=demo.MAILBOX_PASSWORD))
    for nit, name, hab_stage, muisca_stage, _ in DEMO_COMPANIES:
        client = world.add_client(demo.demo_client(nit, name))
        if nit == "900888003":
            client.turnstile = "interactive"
        imap.add_account(client.email_rut, demo.MAILBOX_PASSWORD)
        # registered with the reception e-mail of the robot's profile (demo.robot_profile)
        catalogo_state.set_stage(world, nit, hab_stage, email=f"recepcion+{nit}@empresa-demo.test")
        muisca_state.set_stage(world, nit, muisca_stage)
    # The formalised resolution was issued three hours ago, so the production site already lists it.
    world.resolutions = [
        dataclasses.replace(r, issued_at=r.issued_at - timedelta(hours=3)) for r in world.resolutions
    ]
    return world


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="DIAN simulada para demostración")
    parser.add_argument("--port", type=int, default=8765, help="puerto HTTP de los tres portales (8765)")
    parser.add_argument("--imap-port", type=int, default=1143, help="puerto IMAP de los buzones (1143)")
    parser.add_argument("--dir", type=Path, default=Path(".run/demo"), help="dónde escribir los archivos del robot")
    args = parser.parse_args()

    with PymapServer(port=args.imap_port) as imap:
        world = build_world(imap)
        server = SandboxServer(world, port=args.port)
        workdir = args.dir.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        clients_file, secrets_file = workdir / "clients.toml", workdir / "secrets.toml"
        demo.write_robot_files(
            clients_file,
            secrets_file,
            [demo.robot_profile(c, imap.host, imap.port) for c in world.clients.values()],
            {c.nit: demo.robot_secrets(c) for c in world.clients.values()},
        )
        settings = demo.robot_settings(world, clients_file, secrets_file, workdir)
        env_file = workdir / "robot.env"
        env_file.write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in settings.items()))

        print(f"DIAN simulada en http://127.0.0.1:{server.port}/  (Ctrl+C para terminar)")
        print(f"  habilitación  {world.base_url('habilitacion')}/User/Login")
        print(f"  producción    {world.base_url('produccion')}/User/Login")
        print(f"  MUISCA        {world.base_url('muisca')}/WebArquitectura/DefLogin.faces")
        print(f"Correo (IMAP sin TLS) en {imap.host}:{imap.port}, clave de cada buzón: {demo.MAILBOX_PASSWORD}")
        for nit, name, hab_stage, muisca_stage, hint in DEMO_COMPANIES:
            client = world.clients[nit]
            print(f"  {nit}-{client.dv} {name}")
            print(f"      buzón {client.email_rut}; representante CC {client.rep_id_number}")
            print(f"      MUISCA: CC {client.muisca_user_doc} / {client.muisca_password}; "
                  f"firma electrónica {client.firma_password}")
            print(f"      {hint} [{hab_stage}, {muisca_stage}]")
        print(f"Para el robot:  source {env_file}")
        print("  python -m flows.asociar_prefijo --cliente 900777002 --prefijo FE")
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


if __name__ == "__main__":
    main()
