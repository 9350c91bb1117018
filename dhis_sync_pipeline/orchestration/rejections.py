"""How a step reports what the destination rejected: in the run log, the failure and the metadata.

Every rejected object or value is kept in the step's JSON metadata; the log and the failure
message list the first ones so that they stay readable with thousands of rejections.
"""

from collections.abc import Sequence

from dagster import AssetExecutionContext

LOGGED_ONE_BY_ONE = 50
LISTED_IN_FAILURE = 20
ROWS_IN_TABLE = 500


def log_rejections(context: AssetExecutionContext, lines: Sequence[str], metadata_key: str) -> None:
    for line in lines[:LOGGED_ONE_BY_ONE]:
        context.log.error(line)
    if len(lines) > LOGGED_ONE_BY_ONE:
        context.log.error(f"…and {len(lines) - LOGGED_ONE_BY_ONE} more; all are in the step's {metadata_key} metadata")


def failure_text(summary: str, lines: Sequence[str]) -> str:
    listed = "\n".join(f"- {line}" for line in lines[:LISTED_IN_FAILURE])
    more = f"\n- …and {len(lines) - LISTED_IN_FAILURE} more" if len(lines) > LISTED_IN_FAILURE else ""
    return f"{summary}\n{listed}{more}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], json_key: str, empty: str) -> str:
    if not rows:
        return empty
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows[:ROWS_IN_TABLE]:
        lines.append("| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in row) + " |")
    if len(rows) > ROWS_IN_TABLE:
        lines.append(f"\n…and {len(rows) - ROWS_IN_TABLE} more in {json_key}.")
    return "\n".join(lines)
