"""The two kinds of test and the xdist groups (tests/conftest.py), checked on this session's own collection."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.conftest import ROBOT_FIXTURES, kind_counts


def test_every_collected_test_is_robot_or_selfcheck(request: pytest.FixtureRequest) -> None:
    items = request.session.items
    assert items, "the session's items are visible"
    for item in items:
        kinds = {name for name in ("robot", "selfcheck") if item.get_closest_marker(name)}
        assert len(kinds) == 1, f"{item.nodeid}: {kinds or 'no kind'}"
        if ROBOT_FIXTURES & set(item.fixturenames):
            assert kinds == {"robot"}, item.nodeid
    assert request.node.get_closest_marker("selfcheck") is not None


def test_tests_sharing_a_module_fixture_are_grouped_by_module(request: pytest.FixtureRequest) -> None:
    for item in request.session.items:
        shared = [
            name
            for name, defs in item._fixtureinfo.name2fixturedefs.items()
            if defs and defs[-1].scope in ("module", "class", "package")
        ]
        group = item.get_closest_marker("xdist_group")
        if shared:
            assert group is not None and group.args[0] == item.nodeid.split("::")[0], (item.nodeid, shared)


def test_kind_counts_keeps_the_worst_outcome_per_test() -> None:
    def report(nodeid: str, robot: bool) -> SimpleNamespace:
        return SimpleNamespace(nodeid=nodeid, keywords={"robot": 1} if robot else {"selfcheck": 1})

    stats = {
        "passed": [report("a", True), report("b", False), report("c", False)],
        "error": [report("a", True)],  # a passed its call, then failed its teardown
        "skipped": [report("d", True)],
        "warnings": [SimpleNamespace(nodeid="", keywords={})],
    }
    counts = kind_counts(stats)  # type: ignore[arg-type]
    assert counts["robot"] == {"error": 1, "skipped": 1}
    assert counts["selfcheck"] == {"passed": 2}
