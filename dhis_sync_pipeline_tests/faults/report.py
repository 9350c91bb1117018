"""The fault suite's verdict table, printed at the end of the session (also under xdist).

The hooks live in the suite's top conftest (which the xdist controller loads; a sub-folder's
conftest it never sees) and are imported from here.
"""

from __future__ import annotations

import pytest

ROWS = pytest.StashKey[list]()
COLUMNS = ("scenario", "faults injected", "runs", "step retries", "values lost", "values duplicated", "healed by check",
           "status honest")


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
