"""Every test is marked by where it lives (tests/conftest.py): unit, integration, browser, slow.
`make test-fast` (`pytest -m unit`) must leave out every server process and every long run."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KINDS = {"unit", "integration", "browser", "slow"}
# One file of each kind: collecting them is quick, and shows the marks the whole suite gets.
FILES = {
    "tests/test_web.py": {"unit"},
    "tests/bench/test_report.py": {"unit"},
    "tests/integration/test_live.py": {"integration"},
    "tests/integration/test_dashboard_browser.py": {"integration", "browser"},
    "tests/integration/test_hold_10k.py": {"integration", "slow"},
    "tests/chaos/test_chaos.py": {"integration", "slow"},
    "tests/test_group_commit_eventlet.py": {"slow"},
    "tests/fuzz/test_socket_events.py": {"integration", "slow"},
}


class Collected:
    """A plugin that keeps the marks of each test `-m` selected, and of each it left out."""

    def __init__(self):
        self.selected, self.deselected = {}, {}

    @staticmethod
    def marks(items):
        return {item.nodeid: {m.name for m in item.iter_markers()} & KINDS for item in items}

    def pytest_deselected(self, items):
        self.deselected.update(self.marks(items))

    def pytest_collection_finish(self, session):
        self.selected = self.marks(session.items)


def test_unit_selects_the_unit_tests_and_leaves_out_servers_and_long_runs():
    collected = Collected()
    code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT),
                        "-c", str(ROOT / "pytest.ini"), "-m", "unit",
                        *(str(ROOT / path) for path in FILES)], plugins=[collected])
    assert code == 0, f"collection failed ({code})"
    everything = {**collected.selected, **collected.deselected}
    for path, expected in FILES.items():
        found = {nodeid: kinds for nodeid, kinds in everything.items() if nodeid.startswith(path + "::")}
        assert found, f"nothing collected from {path}"
        assert all(kinds == expected for kinds in found.values()), (path, found)
    assert collected.selected and all(kinds == {"unit"} for kinds in collected.selected.values())
    assert all("unit" not in kinds for kinds in collected.deselected.values())
    assert {nodeid.split("::")[0] for nodeid in collected.selected} == {"tests/test_web.py",
                                                                         "tests/bench/test_report.py"}
