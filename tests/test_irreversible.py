"""The one irreversible-action function: reconcile, read first, check the dialog, act once, verify."""

from __future__ import annotations

from pathlib import Path

import pytest

from bots import steps
from bots.errors import NeedsHuman, PortalChanged, PortalError
from bots.locators import active_irreversible_step
from bots.log import bound
from bots.steps import Phase, StepJournal, irreversible


class Portal:
    """A fake portal: the effect appears when the button is clicked (unless told otherwise)."""

    def __init__(self, *, done: bool = False, dialog: str = "¿Está seguro que desea asociar el prefijo?") -> None:
        self.done = done
        self.dialog = dialog
        self.clicks = 0
        self.takes_effect = True
        self.scope_seen: str | None = None

    def click(self) -> str:
        self.clicks += 1
        self.scope_seen = active_irreversible_step()
        self.done = self.takes_effect
        return "Asociación exitosa"

    def run(self, journal: StepJournal) -> steps.ActionResult[str]:
        return irreversible(
            journal,
            "asociar_prefijo.aceptar",
            act=self.click,
            verify=lambda: self.done,
            confirm=lambda: self.dialog,
            expected="asociar el prefijo",
            what="asociar el prefijo",
            prefijo="FE",
        )


@pytest.fixture(params=["archivo", "postgresql"])
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> StepJournal:
    """The file journal (one machine) and the shared one in PostgreSQL: the same protocol on both."""
    if request.param == "archivo":
        return StepJournal(tmp_path / "pasos.jsonl")
    from bots.state import Store

    store = Store(request.getfixturevalue("postgres_url"))
    request.addfinalizer(store.close)
    return steps.SharedStepJournal(store, "900123456", tmp_path / "pasos.jsonl")


def phases(journal: StepJournal) -> list[str]:
    return [r.phase.value for r in journal.records("asociar_prefijo.aceptar")]


def test_clicks_once_between_two_records_and_verifies(journal: StepJournal) -> None:
    portal = Portal()
    result = portal.run(journal)
    assert result.done_now and result.value == "Asociación exitosa"
    assert portal.clicks == 1 and portal.scope_seen == "asociar_prefijo.aceptar"
    assert phases(journal) == ["antes", "despues"]
    assert active_irreversible_step() is None  # the scope closes with the action


def test_reads_the_portal_first_and_clicks_nothing_when_done(journal: StepJournal) -> None:
    portal = Portal(done=True)
    result = portal.run(journal)
    assert not result.done_now and portal.clicks == 0
    assert phases(journal) == ["confirmado"]
    assert not portal.run(journal).done_now and portal.clicks == 0  # the journal now says done


def test_a_dialog_that_asks_something_else_is_never_accepted(journal: StepJournal) -> None:
    portal = Portal(dialog="¿Está seguro que desea anular la resolución?")
    with pytest.raises(PortalChanged, match="no dice lo esperado") as info:
        portal.run(journal)
    assert portal.clicks == 0 and phases(journal) == []
    assert info.value.dian_text and "anular" in info.value.dian_text


def test_a_click_without_visible_effect_is_left_uncertain_and_never_repeated_blindly(journal: StepJournal) -> None:
    portal = Portal()
    portal.takes_effect = False
    with pytest.raises(PortalError, match="No se repite el clic"):
        portal.run(journal)
    assert portal.clicks == 1 and phases(journal) == ["antes", "despues", "error"]
    portal.done = True  # DIAN shows it late: the next run confirms by reading, no second click
    assert not portal.run(journal).done_now and portal.clicks == 1
    assert phases(journal)[-1] == "confirmado"


def test_an_interrupted_step_is_settled_by_reading(journal: StepJournal) -> None:
    journal.append("asociar_prefijo.aceptar", Phase.BEFORE)  # a run died right after the click
    portal = Portal(done=True)
    assert not portal.run(journal).done_now and portal.clicks == 0
    journal.append("asociar_prefijo.aceptar", Phase.BEFORE)
    portal = Portal(done=False)
    assert portal.run(journal).done_now and portal.clicks == 1  # DIAN shows it never happened


def test_an_interrupted_step_the_portal_cannot_settle_needs_a_person(journal: StepJournal) -> None:
    journal.append("asociar_prefijo.aceptar", Phase.BEFORE)
    with pytest.raises(NeedsHuman, match="no repite el clic"):
        irreversible(journal, "asociar_prefijo.aceptar", act=lambda: None, verify=lambda: None, what="asociar")


def test_failure_messages_say_what_this_run_did(journal: StepJournal, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(steps, "_THIS_RUN", [])  # this process's record starts empty for each journal kind
    with bound(client="900111222"):
        assert steps.this_run_sentence("900111222") == "En esta ejecución no se hizo ningún clic irreversible."
        Portal().run(journal)
        sentence = steps.this_run_sentence("900111222")
    assert "ya se hizo (irreversible): «asociar_prefijo.aceptar»" in sentence
    assert steps.this_run_sentence("900999999").startswith("En esta ejecución no se hizo")
