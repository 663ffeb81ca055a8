"""Journal of irreversible clicks: "about to click X" before, "clicked X" after.

A crash or a kill between two clicks must never lead to clicking again blindly. Every irreversible
click runs inside ``journal.step(name)``, which appends to ``<output_dir>/<nit>/pasos.jsonl``
(JSON lines, mode 0600, fsynced) — or, when the store is shared (``DIAN_STATE_URL`` is PostgreSQL),
the store's ``step_journal`` table, each record committed before the click:

- ``antes``: about to click (written before the click);
- ``despues``: the click went through and the portal answered (written after the block);
- ``error``: the block raised, so whether DIAN received the click is unknown.

A later run calls ``journal.reconcile(name, verify)`` first. When the last record of the step is
``antes`` or ``error`` (the run died or failed between the two records), the flow does not click:
``verify`` reads the portal, and the answer is recorded as ``confirmado`` (the effect is there) or
``no_aplicado`` (DIAN shows it never happened, so the step may run again). A portal that cannot
tell is a ``NeedsHuman``.

    journal = step_journal(settings, client.nit)
    status = journal.reconcile("registrar_facturador.aceptar", verify=lambda: read_state() == "Registrado")
    if status is not StepStatus.DONE:
        with journal.step("registrar_facturador.aceptar", correo=email) as step:
            button.click()
            step.note(url=page.url)

Every irreversible action goes through ``irreversible(...)`` (below), the one function that does
the whole protocol: reconcile with the journal → read the portal (already done? then nothing is
clicked) → check the confirmation's text → record ``antes`` → act once → record ``despues`` →
verify. Locators flagged ``irreversible`` in selectors/ resolve only inside it
(``bots.locators.irreversible_scope``), so a click that skips the protocol fails loudly.

Test hook (tests only): with ``DIAN_TEST_EXIT_AFTER_CLICK=<step name>`` in the environment the process
exits at once (``os._exit(TEST_HOOK_EXIT_CODE)``) right after that click, before ``despues`` is
written, as a kill would. Flows call ``exit_hook(name)`` after their other (reversible) clicks, so
a test can stop the process between any two clicks.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from bots import artifacts, text
from bots.errors import NeedsHuman, PortalChanged, PortalError
from bots.locators import irreversible_scope
from bots.log import current_context, get_logger, redact_value

if TYPE_CHECKING:
    from bots.config import Settings
    from bots.state.store import Store

log = get_logger(__name__)
T = TypeVar("T")

#: What this process recorded, in order: (step, phase), so every failure message can say truthfully
#: what the run already did (``done_this_run``).
_THIS_RUN: list[tuple[str | None, str, Phase]] = []

JOURNAL_NAME = "pasos.jsonl"
TEST_HOOK_ENV = "DIAN_TEST_EXIT_AFTER_CLICK"
TEST_HOOK_EXIT_CODE = 86


class Phase(StrEnum):
    """What a record says about a step."""

    BEFORE = "antes"
    AFTER = "despues"
    FAILED = "error"
    CONFIRMED = "confirmado"
    NOT_APPLIED = "no_aplicado"


class StepStatus(StrEnum):
    """What the journal knows about a step, from its last record."""

    NEVER = "nunca"  # no record, or a later read showed it was not applied
    UNCERTAIN = "incierto"  # "antes" or "error" last: the portal must be read before anything else
    DONE = "hecho"  # "despues" or "confirmado" last


_STATUS = {
    Phase.BEFORE: StepStatus.UNCERTAIN,
    Phase.FAILED: StepStatus.UNCERTAIN,
    Phase.AFTER: StepStatus.DONE,
    Phase.CONFIRMED: StepStatus.DONE,
    Phase.NOT_APPLIED: StepStatus.NEVER,
}


@dataclass(frozen=True)
class StepRecord:
    """One line of the journal."""

    at: datetime
    step: str
    phase: Phase
    run_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        payload = {
            "at": self.at.isoformat(),
            "step": self.step,
            "phase": self.phase.value,
            "run_id": self.run_id,
            "details": self.details,
        }
        return json.dumps(payload, ensure_ascii=False, default=str)

    @classmethod
    def from_json(cls, line: str) -> StepRecord:
        data = json.loads(line)
        return cls(
            at=datetime.fromisoformat(data["at"]),
            step=str(data["step"]),
            phase=Phase(data["phase"]),
            run_id=data.get("run_id"),
            details=dict(data.get("details") or {}),
        )


def exit_hook(name: str) -> None:
    """Test hook: exit hard right here when ``DIAN_TEST_EXIT_AFTER_CLICK`` names this click."""
    wanted = os.environ.get(TEST_HOOK_ENV, "")
    if name and name in {w.strip() for w in wanted.split(",")}:
        log.warning("gancho de prueba: salida inmediata tras el clic", step_name=name)
        os._exit(TEST_HOOK_EXIT_CODE)


class StepJournal:
    """The journal of one client's irreversible steps (append-only JSON lines in a local file)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _lines(self) -> list[str]:
        return self.path.read_text(encoding="utf-8").splitlines() if self.path.is_file() else []

    def _write(self, line: str) -> None:
        """Append one line and fsync it before returning (it must be on disk before the click)."""
        artifacts.append_line(self.path, line)

    # reading
    def records(self, step: str | None = None) -> list[StepRecord]:
        """Every record (of one step, if given), oldest first. Unreadable lines are skipped."""
        found = []
        for line in self._lines():
            if not line.strip():
                continue
            try:
                record = StepRecord.from_json(line)
            except (ValueError, KeyError, TypeError):
                log.warning("línea ilegible en la bitácora de pasos", path=str(self.path))
                continue
            if step is None or record.step == step:
                found.append(record)
        return found

    def last(self, step: str) -> StepRecord | None:
        records = self.records(step)
        return records[-1] if records else None

    def status(self, step: str) -> StepStatus:
        last = self.last(step)
        return StepStatus.NEVER if last is None else _STATUS[last.phase]

    def uncertain(self) -> list[StepRecord]:
        """The last record of every step left uncertain (``antes`` or ``error``)."""
        latest: dict[str, StepRecord] = {}
        for record in self.records():
            latest[record.step] = record
        return [r for r in latest.values() if _STATUS[r.phase] is StepStatus.UNCERTAIN]

    # writing
    def append(self, step: str, phase: Phase, **details: Any) -> StepRecord:
        """Append one record and flush it to disk before returning."""
        record = StepRecord(
            at=datetime.now(UTC),
            step=step,
            phase=phase,
            run_id=current_context().get("run_id"),
            details=redact_value({k: v for k, v in details.items() if v is not None}),
        )
        self._write(record.to_json())
        _THIS_RUN.append((current_context().get("client"), step, phase))
        log.info("bitácora de pasos", step_name=step, phase=phase.value)
        return record

    def step(self, name: str, **details: Any) -> IrreversibleStep:
        """Context manager around one irreversible click (see the module docstring)."""
        return IrreversibleStep(self, name, details)

    def reconcile(self, name: str, verify: Callable[[], bool | None], *, what: str | None = None) -> StepStatus:
        """Settle an uncertain step by reading the portal; returns the step's status afterwards.

        ``verify`` must only read: True = the effect is on the portal, False = it is not, None = the
        portal cannot tell (→ ``NeedsHuman``). Steps that are not uncertain are returned as they are.
        """
        last = self.last(name)
        if last is None or _STATUS[last.phase] is not StepStatus.UNCERTAIN:
            return StepStatus.NEVER if last is None else _STATUS[last.phase]
        log.warning("paso incierto: se verifica leyendo el portal", step_name=name, since=last.at.isoformat())
        applied = verify()
        if applied is None:
            raise NeedsHuman(
                f"Una ejecución anterior quedó a mitad del paso «{what or name}» ({last.at:%Y-%m-%d %H:%M} UTC) "
                "y el portal no permite saber si la DIAN lo recibió. Revise el portal y registre el resultado "
                "antes de volver a ejecutar; el robot no repite el clic.",
                reason="paso_incierto",
            )
        self.append(name, Phase.CONFIRMED if applied else Phase.NOT_APPLIED, verified_after=last.phase.value)
        return StepStatus.DONE if applied else StepStatus.NEVER


class IrreversibleStep:
    """``antes`` on entry; ``despues`` (with the noted details) on a clean exit; ``error`` otherwise."""

    def __init__(self, journal: StepJournal, name: str, details: dict[str, Any]) -> None:
        self.journal = journal
        self.name = name
        self.details = details
        self.result: dict[str, Any] = {}

    def note(self, **details: Any) -> None:
        """Details for the ``despues`` record (e.g. DIAN's reply)."""
        self.result.update(details)

    def __enter__(self) -> IrreversibleStep:
        self.journal.append(self.name, Phase.BEFORE, **self.details)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            exit_hook(self.name)
            self.journal.append(self.name, Phase.AFTER, **self.result)
        else:
            self.journal.append(self.name, Phase.FAILED, error=type(exc).__name__, **self.result)


class SharedStepJournal(StepJournal):
    """The same journal kept in the shared store (PostgreSQL), so a worker on another machine resumes a
    client that a killed worker left mid-step. A record is committed before ``append`` returns."""

    def __init__(self, store: Store, nit: str, path: Path) -> None:
        super().__init__(path)  # the local path is only a name here (messages, logs)
        self.store, self.nit = store, nit

    def _lines(self) -> list[str]:
        return self.store.journal_lines(self.nit)

    def _write(self, line: str) -> None:
        self.store.journal_append(self.nit, line)


_SHARED_STORES: dict[str, Store] = {}


def step_journal(settings: Settings, nit: str) -> StepJournal:
    """The step journal of a client: ``<output_dir>/<nit>/pasos.jsonl``, or the shared store's
    ``step_journal`` table when ``DIAN_STATE_URL`` is PostgreSQL."""
    from bots.state.store import Store, is_shared, state_url

    path = settings.output_dir / artifacts.safe_name(nit) / JOURNAL_NAME
    if not is_shared(settings):
        return StepJournal(path)
    url = state_url(settings)
    if url not in _SHARED_STORES:
        _SHARED_STORES[url] = Store(url)
    return SharedStepJournal(_SHARED_STORES[url], nit, path)


def done_this_run(client: str | None) -> list[str]:
    """Irreversible steps this process clicked (or may have clicked) for ``client``, in order, once each."""
    seen: list[str] = []
    for who, step, phase in _THIS_RUN:
        if who == client and phase in (Phase.BEFORE, Phase.AFTER, Phase.FAILED) and step not in seen:
            seen.append(step)
    return seen


def this_run_sentence(client: str | None) -> str:
    """Spanish: what this run already did that cannot be undone (never a fixed "nothing was clicked")."""
    steps = done_this_run(client)
    if not steps:
        return "En esta ejecución no se hizo ningún clic irreversible."
    done = [s for s in steps if (client, s, Phase.AFTER) in _THIS_RUN]
    uncertain = [s for s in steps if s not in done]
    parts = []
    if done:
        parts.append("En esta ejecución ya se hizo (irreversible): " + ", ".join(f"«{s}»" for s in done) + ".")
    if uncertain:
        parts.append(
            "Quedó sin confirmar si la DIAN recibió: " + ", ".join(f"«{s}»" for s in uncertain)
            + " (la próxima ejecución lo verifica antes de cualquier clic)."
        )
    return " ".join(parts)


@dataclass(frozen=True)
class ActionResult(Generic[T]):
    """What ``irreversible`` did: ``done_now`` (clicked in this call) or found done; ``value`` of ``act``."""

    done_now: bool
    value: T | None = None


def irreversible(
    journal: StepJournal,
    name: str,
    *,
    act: Callable[[], T],
    verify: Callable[[], bool | None],
    what: str,
    confirm: Callable[[], str] | None = None,
    expected: str | None = None,
    verify_first: bool = True,
    verify_after: bool = True,
    repeatable: bool = False,
    note: Callable[[T], dict[str, Any]] | None = None,
    **details: Any,
) -> ActionResult[T]:
    """The one irreversible-action function.

    1. ``journal.reconcile``: a step left uncertain by an earlier run is settled by ``verify``
       (read only), never by clicking again.
    2. ``verify_first``: ``verify()`` is True → DIAN already shows the effect; nothing is clicked.
    3. ``confirm`` returns the confirmation's text (a dialog); it must contain ``expected``
       (``bots.text.contains``), else "portal changed" before any click.
    4. ``antes`` recorded, ``act()`` clicks once (inside ``irreversible_scope``, so the flagged
       locator resolves), ``despues`` recorded (the test kill hook fires between the two).
    5. ``verify_after``: ``verify()`` must be True, else ``PortalError`` (the click went out, the
       effect is not shown: the next run reconciles, it never clicks again blindly).

    ``repeatable``: the flow, having read the portal, does this click again on purpose (a new dynamic
    key, a signature retried after DIAN rejected the key): a ``despues`` already in the journal does
    not skip it (an uncertain record is still reconciled first). ``note(value)`` returns details for
    the ``despues`` record (e.g. DIAN's reply read inside ``act``).
    """
    status = journal.reconcile(name, verify, what=what)
    if status is StepStatus.DONE and not repeatable:
        return ActionResult(done_now=False)
    if verify_first and verify() is True:
        journal.append(name, Phase.CONFIRMED, verified_after="lectura")
        return ActionResult(done_now=False)
    if confirm is not None:
        shown = confirm()
        if expected and not text.contains(shown, expected):
            raise PortalChanged(
                f"El diálogo de «{what}» no dice lo esperado («{expected}»); dice «{shown[:160]}». "
                "No se hizo clic en él",
                selector=name,
                dian_text=shown[:300] or None,
            )
    with irreversible_scope(name), journal.step(name, **details) as step:
        value = act()
        if note is not None:  # details for the ``despues`` record (e.g. DIAN's answer)
            step.note(**note(value))
    if verify_after and verify() is not True:
        # The click went out but DIAN does not show its effect: uncertain, so the next run reads the
        # portal before anything else (``reconcile``) instead of trusting ``despues``.
        journal.append(name, Phase.FAILED, error="sin_efecto_visible")
        raise PortalError(
            f"Se hizo clic en «{what}» pero el portal no muestra el resultado esperado. No se repite el clic: "
            "la próxima ejecución revisa el estado en el portal",
            selector=name,
            retryable=True,
        )
    return ActionResult(done_now=True, value=value)
