"""MUISCA fixtures: a plain-HTTP walker through the sandbox's MUISCA screens (no browser)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from sandbox import muisca
from sandbox.muisca_state import MuiscaState, state_of
from sandbox.world import SandboxClient, World

SOL = "vistaSolicitud:frmSolicitud:"


@dataclass
class MuiscaWalker:
    """One browser-less user on muisca.localhost: each method is one human step (one request)."""

    http: httpx.Client
    world: World
    nit: str

    @property
    def client(self) -> SandboxClient:
        return self.world.clients[self.nit]

    @property
    def state(self) -> MuiscaState:
        return state_of(self.client)

    def get(self, path: str, **params: str) -> httpx.Response:
        return self.http.get(path, params=params or None)

    def post(self, path: str, fields: dict[str, str]) -> httpx.Response:
        return self.http.post(path, data=fields)

    def follow(self, response: httpx.Response) -> httpx.Response:
        """GET the redirect target of a 302."""
        assert response.status_code == 302, response.status_code
        return self.http.get(response.headers["location"])

    # -- login ------------------------------------------------------------------------------------
    def login(self, password: str | None = None, *, modo: str = "tercero", org: str | None = None) -> httpx.Response:
        client = self.client
        return self.post(
            muisca.LOGIN_URLS["2026"],
            {
                "modoIngreso": modo,
                "numDocumentoOrg": self.nit if org is None else org,
                "tipoDocumento": client.muisca_user_doc_type,
                "numDocumento": client.muisca_user_doc,
                "password": client.muisca_password if password is None else password,
                "aceptaTratamientoDatos": "true",
            },
        )

    def login_legacy(self, password: str | None = None) -> httpx.Response:
        client = self.client
        p = "vistaLogin:frmLogin:"
        return self.post(
            muisca.LOGIN_URLS["legacy"],
            {
                p + "selNit": "2",
                p + "txtNit": self.nit,
                p + "selTipoDoc": "13",
                p + "txtUsuario": client.muisca_user_doc,
                p + "txtCadena": client.muisca_password if password is None else password,
                p + "selTeclado": "N",
                p + "_id18": "Ingresar",
                "vistaLogin:frmLogin_SUBMIT": "1",
            },
        )

    # -- numeración -----------------------------------------------------------------------------
    def to_solicitud(self) -> httpx.Response:
        """Dashboard → Numeración de Facturación → Solicitar → AVISO → Ingresar → Autorizar Rangos (M-07)."""
        menu = self.post(
            muisca.DASHBOARD, {"vistaDashboard:frmDashboard:btnFE.x": "5", "vistaDashboard:frmDashboard:btnFE.y": "5"}
        )
        assert menu.headers["location"] == muisca.MENU
        assert self.get(muisca.MENU).status_code == 200
        assert "AVISO" in self.get(muisca.AVISO).text
        self.follow(self.post(muisca.AVISO, {"vistaAviso:frmAviso:btnAceptar": "Aceptar"}))
        self.follow(self.post(muisca.CONTRIBUYENTE, {"vistaContribuyente:frmContribuyente:btnIngresar": "Ingresar"}))
        return self.follow(
            self.post(muisca.CONSULTAR, {"vistaConsulta:frmConsulta:btnAutorizarRangos": "Autorizar Rangos"})
        )

    def agregar(self, prefijo: str = "FE", tipo: str = "1", desde: str = "1", hasta: str = "1000") -> httpx.Response:
        return self.post(
            muisca.SOLICITUD,
            {
                SOL + "txtPrefijo": prefijo,
                SOL + "selTipoFacturacion": tipo,
                SOL + "txtRangoDesde": desde,
                SOL + "txtRangoHasta": hasta,
                SOL + "btnAgregar": "Agregar",
            },
        )

    def boton(self, name: str) -> httpx.Response:
        """Press a bottom button of M-07 (Borrador, Definitivo, Salir, Limpiar)."""
        return self.post(muisca.SOLICITUD, {SOL + f"btn{name}": name})

    def mensaje(self, boton: str) -> httpx.Response:
        """Press "Ver Documento" (VerDocumento) or "Aceptar" on M-08."""
        return self.post(muisca.MENSAJE, {f"vistaMensaje:frmMensaje:btn{boton}": boton})

    def solicitar_clave(self) -> httpx.Response:
        return self.post(muisca.FIRMA, {"solicitarClave": "1", "txtOTP": "", "txtPsw": ""})

    def firmar(self, clave: str | None = None, password: str | None = None) -> httpx.Response:
        assert self.state.clave is not None or clave is not None
        return self.post(
            muisca.FIRMA,
            {
                "solicitarClave": "",
                "txtOTP": self.state.clave.valor if clave is None and self.state.clave else (clave or ""),
                "txtPsw": self.client.firma_password if password is None else password,
                "btnFirmar": "1",
            },
        )

    def formaliza(self, boton: str = "Firmar", row: int = 0) -> httpx.Response:
        return self.post(muisca.CONSULTAR, {f"vistaConsulta:frmFormaliza:tblFormaliza:{row}:btn{boton}": boton})


@pytest.fixture
def muisca_http(world: World, portal_http: Callable[[str], httpx.Client]) -> MuiscaWalker:
    """A plain-HTTP walker for the demo client on the sandbox's MUISCA host."""
    nit = next(iter(world.clients))
    return MuiscaWalker(portal_http("muisca"), world, nit)
