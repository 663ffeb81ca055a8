"""The night's report: per client its stage, last step and result, next action and when, what the
operator must do, links to evidence; paused portals. JSON-ready data and an offline HTML page."""

from __future__ import annotations

import html
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bots.clock import BOGOTA
from bots.state.store import (
    AGOTADO,
    ERROR_ENTRADA,
    ESPERANDO,
    FALLIDO,
    HECHO,
    PIPELINE,
    REQUIERE_HUMANO,
    StepRow,
    Store,
)
from bots.text import squash

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bots.config import Client
    from bots.state.limits import Limits

#: The client's stage, named by its first step not done yet.
STAGES = {
    "registrar": "por registrar como facturador",
    "asociar_software": "registrado",
    "set_aceptado": "software asociado (set de pruebas)",
    "fecha_produccion": "habilitado",
    "sincronizar": "fecha de producción registrada",
    "solicitar_numeracion": "sincronizado a producción",
    "asociar_prefijo": "numeración autorizada en MUISCA",
    None: "completo (prefijo asociado)",
}
STEP_LABELS = {
    "registrar": "registro del facturador",
    "asociar_software": "asociación del software",
    "set_aceptado": "set de pruebas aceptado",
    "fecha_produccion": "fecha de inicio en producción",
    "sincronizar": "sincronización a producción",
    "solicitar_numeracion": "solicitud de numeración (MUISCA)",
    "asociar_prefijo": "asociación del prefijo",
}
#: Result classes from best to worst (as flows.lote.SEVERITY); the night's exit code is the worst.
SEVERITY = ("ok", "ya_hecho", "esperando", "requiere_humano", "error_portal", "portal_cambio", "error_entrada", "error")
EXIT = {"ok": 0, "ya_hecho": 0, "esperando": 3, "requiere_humano": 4, "error_portal": 5, "portal_cambio": 5,
        "error_entrada": 2, "error": 1}
_FLOW_OF = {"solicitar_numeracion": "solicitar_numeracion", "asociar_prefijo": "asociar_prefijo"}


def _when(value: datetime | None) -> str:
    return f"{value.astimezone(BOGOTA):%Y-%m-%d %H:%M}" if value else ""


def operator_action(client: Client, step: str | None, row: StepRow | None) -> str:
    """What a person must do for this client now ("" when nothing)."""
    nit = client.nit
    if step is None:
        proveedor = client.software.proveedor if client.software else "el proveedor tecnológico"
        data = ((row.last_outcome or {}).get("data") or {}) if row is not None else {}
        how = data.get("siguientes_pasos")  # flows.asociar_prefijo knows some providers' own step
        if not how:
            lower = proveedor.lower()
            if "facturatech" in lower:
                how = "en Facturatech, «Sincronizar Numeraciones»"
            elif "loggro" in lower:
                how = "en Loggro, marcar «La organización maneja facturación electrónica»"
            else:
                how = "en su plataforma, sincronizar las numeraciones de la DIAN"
        return f"Avisar a {proveedor} que el prefijo quedó asociado: {how}."
    if row is None:
        return ""
    outcome = row.last_outcome or {}
    message = str(outcome.get("message") or "")
    reason = str((outcome.get("data") or {}).get("reason") or "")
    flow = _FLOW_OF.get(step, "habilitacion")
    if row.status == REQUIERE_HUMANO:
        if reason == "aprobacion" or (step == "fecha_produccion" and "aprob" in message.lower()):
            return (
                "Pedir al cliente que apruebe por escrito la fecha de inicio en producción (irreversible) y "
                f"registrarla: python -m flows.aprobar --cliente {nit} --fecha AAAA-MM-DD --aprobado-por \"…\". "
                f"{message}"
            )
        if reason == "captcha":
            return (
                "Resolver el CAPTCHA a mano: DIAN_HEADLESS=false python -m flows."
                f"{flow} --cliente {nit} (y completar la verificación en la ventana)."
            )
        if reason == "cuenta_bloqueada":
            return f"La cuenta de MUISCA está bloqueada: desbloquearla en la DIAN y actualizar el secreto. {message}"
        if reason in ("clave_rechazada", "clave_caducada", "clave_firma_rechazada"):
            return f"Actualizar la contraseña en los secretos del robot (la DIAN no la aceptó). {message}"
        return f"Revisar: {message}"
    if row.status == ERROR_ENTRADA:
        if "secreto" in message.lower():
            return f"Definir el secreto que falta: {message}"
        return f"Corregir los datos del cliente: {message}"
    if row.status == AGOTADO:
        if outcome.get("status") == "portal_cambio":
            return f"El portal cambió: avisar al equipo del robot (página guardada en la evidencia). {message}"
        return f"Falló varias veces esta noche (se reintenta la próxima): {message}"
    return ""


def client_row(client: Client, rows: dict[str, StepRow], job: dict[str, Any] | None) -> dict[str, Any]:
    """One line of the report."""
    pending = next((s for s in PIPELINE if rows[s].status != HECHO), None)
    row = rows[pending] if pending else None
    touched = [r for r in rows.values() if r.updated_at]
    last = max(touched, key=lambda r: (r.updated_at, PIPELINE.index(r.step))) if touched else None
    last_outcome = (last.last_outcome if last else None) or {}
    if pending is None:
        result, state, detail = "ok", "completo", "Todos los pasos hechos."
    elif row is not None and row.status == ESPERANDO:
        result, state = "esperando", "en espera"
        detail = str((row.last_outcome or {}).get("message") or "")
    elif row is not None and row.status == REQUIERE_HUMANO:
        result, state, detail = "requiere_humano", "requiere una persona", str((row.last_outcome or {}).get("message"))
    elif row is not None and row.status == ERROR_ENTRADA:
        result, state, detail = "error_entrada", "datos inválidos", str((row.last_outcome or {}).get("message"))
    elif row is not None and row.status in (FALLIDO, AGOTADO):
        result = str((row.last_outcome or {}).get("status") or "error")
        state = "falló (se reintenta)" if row.status == FALLIDO else "falló esta noche"
        detail = str((row.last_outcome or {}).get("message") or "")
    else:
        result, state, detail = "esperando", "pendiente", "Aún no se ha intentado."
        if row is not None and row.not_before:
            detail = f"No antes de {_when(row.not_before)}."
    if result not in SEVERITY:
        result = "error"
    if job and job.get("skipped") == "bloqueado":
        detail = "Otra ejecución está procesando este cliente; se omitió. " + detail
    if job and job.get("paused"):
        detail = f"Portal {job['paused']} en pausa por errores seguidos; no se intentó. " + detail
    next_when = row.not_before if row is not None else None
    evidence: list[str] = []
    for r in rows.values():
        evidence += [e for e in r.evidence if e not in evidence]
    action = operator_action(client, pending, row if pending else rows["asociar_prefijo"])
    return {
        "nit": client.nit,
        "nit_con_dv": client.nit_con_dv,
        "razon_social": client.razon_social,
        "etapa": STAGES[pending],
        "paso_pendiente": pending,
        "estado": state,
        "resultado": result,
        "detalle": squash(detail),
        "ultimo_paso": last.step if last else None,
        "ultimo_resultado": last_outcome.get("status"),
        "proxima_accion": STEP_LABELS[pending] if pending else "",
        "cuando": _when(next_when) if next_when else ("próxima noche" if pending else ""),
        "accion": action,
        "evidencia": evidence,
        "pasos": {s: {"estado": r.status, "intentos": r.attempts, "no_antes": _when(r.not_before)}
                  for s, r in rows.items()},
    }


def build_report(store: Store, clients: Sequence[Client], jobs: Sequence[dict[str, Any]], *, now: datetime,
                 run_id: str, limits: Limits | None = None) -> dict[str, Any]:
    """The night's data: clients, paused portals, counts, the worst result and its exit code
    (the breakers are read from ``limits`` when they live apart from the store, i.e. in Redis)."""
    by_nit = {j.get("nit"): j for j in jobs}
    lines = [client_row(c, store.steps(c.nit), by_nit.get(c.nit)) for c in clients]
    paused = [
        {"portal": b.portal, "errores": b.consecutive, "hasta": _when(b.open_until), "texto": b.last_text}
        for b in (limits or store).breakers() if b.open_until is not None
    ]
    worst = max((r["resultado"] for r in lines), key=SEVERITY.index, default="ok")
    if worst == "ok" and paused:
        worst = "error_portal"
    counts: dict[str, int] = {}
    for r in lines:
        counts[r["estado"]] = counts.get(r["estado"], 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in counts.items()) or "sin clientes"
    attention = [r for r in lines if r["accion"]]
    return {
        "run_id": run_id,
        "noche": f"{now.astimezone(BOGOTA):%Y-%m-%d}",
        "generado": _when(datetime.now(BOGOTA)),
        "status": worst,
        "exit_code": EXIT[worst],
        "message": f"Corrida nocturna: {len(lines)} cliente(s): {summary}. {len(attention)} requieren atención.",
        "clientes": lines,
        "acciones": [{"nit": r["nit"], "accion": r["accion"]} for r in attention],
        "portales_en_pausa": paused,
    }


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1b1b1b}
h1{font-size:1.4rem}table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.35rem .5rem;vertical-align:top;text-align:left}
th{background:#f0f0f0}.ok{background:#e6f4ea}.esperando{background:#fff8e1}
.requiere_humano,.error_entrada{background:#fde7e9}.error,.error_portal,.portal_cambio{background:#fbe3d6}
.accion{font-weight:600}.pausa{background:#fde7e9;padding:.5rem;border:1px solid #d33}
code{font-size:.85rem}
"""


def _link(path: str, base: Path) -> str:
    target = Path(path)
    try:
        href = os.path.relpath(target, base)
    except ValueError:
        href = target.as_uri() if target.is_absolute() else path
    return f'<a href="{html.escape(href)}">{html.escape(target.name or path)}</a>'


def render_html(data: dict[str, Any], base: Path) -> str:
    """A self-contained page (no scripts, no remote resources); ``base`` is its folder (for links)."""
    e = html.escape
    out = [
        "<!doctype html><html lang=\"es\"><head><meta charset=\"utf-8\">",
        f"<title>Robot DIAN — corrida nocturna {e(data['noche'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>Corrida nocturna del {e(data['noche'])}</h1>",
        f"<p id=\"resumen\">{e(data['message'])} Ejecución {e(data['run_id'])}, generado {e(data['generado'])}. "
        f"Código de salida {data['exit_code']}.</p>",
    ]
    for p in data["portales_en_pausa"]:
        out.append(
            f"<p class=\"pausa\">Portal <b>{e(p['portal'])}</b> en pausa hasta {e(p['hasta'])} tras {p['errores']} "
            f"errores seguidos. Último: «{e(str(p['texto'] or ''))}».</p>"
        )
    if data["acciones"]:
        out.append("<h2>Qué debe hacer una persona</h2><ul id=\"acciones\">")
        for a in data["acciones"]:
            out.append(f"<li data-nit=\"{e(a['nit'])}\"><b>{e(a['nit'])}</b>: {e(a['accion'])}</li>")
        out.append("</ul>")
    out.append(
        "<h2>Clientes</h2><table id=\"clientes\"><thead><tr><th>NIT</th><th>Razón social</th><th>Etapa</th>"
        "<th>Último paso y resultado</th><th>Estado</th><th>Próxima acción</th><th>Cuándo</th>"
        "<th>Qué debe hacer el operador</th><th>Evidencia</th></tr></thead><tbody>"
    )
    for r in data["clientes"]:
        last = f"{STEP_LABELS.get(r['ultimo_paso'] or '', '—')}: {r['ultimo_resultado'] or '—'}"
        links = " ".join(_link(p, base) for p in r["evidencia"])
        out.append(
            f"<tr class=\"{e(r['resultado'])}\" data-nit=\"{e(r['nit'])}\"><td>{e(r['nit_con_dv'])}</td>"
            f"<td>{e(r['razon_social'])}</td><td>{e(r['etapa'])}</td><td>{e(last)}</td>"
            f"<td>{e(r['estado'])}<br><small>{e(r['detalle'])}</small></td><td>{e(r['proxima_accion'])}</td>"
            f"<td>{e(r['cuando'])}</td><td class=\"accion\">{e(r['accion'])}</td><td>{links}</td></tr>"
        )
    out.append("</tbody></table></body></html>")
    return "\n".join(out)


def write_html(data: dict[str, Any], path: Path) -> Path:
    """Write the report page (its folder is created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(data, path.parent), encoding="utf-8")
    return path
