"""The fault suite's verdict table: one row per scenario, printed at the end of the session.

`pytest_terminal_summary` prints it without `-s`, so CI output always shows it. Under xdist each
worker hands its rows to the controller through `workeroutput`, and the controller prints them.
"""

from __future__ import annotations

import pytest

ROWS = pytest.StashKey[list]()
COLUMNS = ("scenario", "faults injected", "runs", "step retries", "values lost", "values duplicated", "healed by check",
           "status honest")


@pytest.fixture(scope="session")
def fault_table(request) -> list[dict]:
    """Append one dict per scenario, with the keys of COLUMNS."""
    return request.config.stash.setdefault(ROWS, [])


def pytest_sessionfinish(session) -> None:
    if hasattr(session.config, "workeroutput"):  # an xdist worker: the controller prints
        session.config.workeroutput["fault_rows"] = session.config.stash.get(ROWS, [])


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    rows = getattr(node, "workeroutput", {}).get("fault_rows", [])
    node.config.stash.setdefault(ROWS, []).extend(rows)


def pytest_terminal_summary(terminalreporter, config) -> None:
    rows = config.stash.get(ROWS, [])
    if not rows or hasattr(config, "workeroutput"):
        return
    rows = sorted(rows, key=lambda row: row["order"])
    widths = [max(len(name), *(len(str(row[name])) for row in rows)) for name in COLUMNS]
    terminalreporter.write_sep("=", "fault injection: destination = source after every fault")
    terminalreporter.write_line("  ".join(name.ljust(width) for name, width in zip(COLUMNS, widths)))
    terminalreporter.write_line("  ".join("-" * width for width in widths))
    for row in rows:
        terminalreporter.write_line("  ".join(str(row[name]).ljust(width) for name, width in zip(COLUMNS, widths)))
