"""What a notification says, and how each channel (Slack, Teams, JSON, e-mail) wants it.

A message names the configuration, what happened, the failed step and its headline, the first
rejected objects, the run's counts and links to the run in the Dagster UI and on the dashboard.
Every text in it has gone through `secrets.scrub`.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from typing import Any

from dagster import DagsterInstance

from dhis_sync_pipeline.config import NotificationsConfig, SyncConfig
from dhis_sync_pipeline.reporting.history import read_run, rejected_objects

# The same variable `dhis-sync serve` reads for its links to the Dagster UI.
DAGSTER_URL_ENV = "DHIS_SYNC_DAGSTER_URL"
DASHBOARD_URL_ENV = "DHIS_SYNC_DASHBOARD_URL"
DEFAULT_DAGSTER_URL = "http://127.0.0.1:3000"
DEFAULT_DASHBOARD_URL = "http://127.0.0.1:3001"
FIRST_REJECTIONS = 5
TITLES = {
    "failure": "DHIS2 sync failed",
    "recovery": "DHIS2 sync recovered",
    "success": "DHIS2 sync succeeded",
}


@dataclass
class Notification:
    event: str  # failure | recovery | success
    config_id: str
    config_name: str
    source: str
    destination: str
    run_id: str
    status: str
    started_by: str
    start_time: str
    end_time: str
    duration_seconds: float | None
    counts: dict[str, int]
    failed_step: str
    failure: str
    rejections: list[str] = field(default_factory=list)
    rejected_total: int = 0
    run_url: str = ""
    dashboard_url: str = ""

    @property
    def title(self) -> str:
        return f"{TITLES[self.event]}: {self.config_name} ({self.config_id})"

    def lines(self) -> list[str]:
        """The body as plain lines, shared by every channel."""
        out = [f"{self.source} → {self.destination}, run {self.run_id[:8]} ({self.status}, "
               f"started by {self.started_by or 'unknown'})"]
        if self.duration_seconds is not None:
            out.append(f"Duration: {self.duration_seconds:.0f} s, from {self.start_time} to {self.end_time}")
        out.append("Counts: " + ", ".join(f"{name} {value}" for name, value in self.counts.items()))
        if self.failed_step:
            out.append(f"Failed step: {self.failed_step}: {self.failure}")
        if self.rejections:
            more = self.rejected_total - len(self.rejections)
            out.append(f"First rejections ({self.rejected_total} in all):")
            out += [f"  - {line}" for line in self.rejections]
            if more > 0:
                out.append(f"  - …and {more} more (CSV on the dashboard)")
        return out

    def text(self) -> str:
        links = [f"Dagster UI: {self.run_url}", f"Dashboard: {self.dashboard_url}"]
        return "\n".join([self.title, "", *self.lines(), "", *links]) + "\n"

    def payload(self, kind: str) -> dict[str, Any]:
        if kind == "json":
            return {"title": self.title, **asdict(self)}
        if kind == "teams":
            return _teams_card(self)
        # Slack's incoming webhooks (and the Slack-compatible ones of Mattermost, Rocket.Chat…).
        body = "\n".join(self.lines())
        links = f"<{self.run_url}|Open the run in the Dagster UI> · <{self.dashboard_url}|History on the dashboard>"
        return {"text": f"*{self.title}*\n{body}\n{links}"}

    def email(self, sender: str, recipients: tuple[str, ...]) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = self.title
        message["From"] = sender
        message["To"] = ", ".join(recipients)
        message["X-DHIS-Sync-Run"] = self.run_id
        message.set_content(self.text())
        return message


def _teams_card(n: Notification) -> dict[str, Any]:
    """An Adaptive Card, as Teams' workflow webhooks ("When a Teams webhook request is received") take it."""
    card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": n.title, "weight": "Bolder", "size": "Medium", "wrap": True},
            *({"type": "TextBlock", "text": line, "wrap": True} for line in n.lines()),
        ],
        "actions": [
            {"type": "Action.OpenUrl", "title": "Open the run in the Dagster UI", "url": n.run_url},
            {"type": "Action.OpenUrl", "title": "History on the dashboard", "url": n.dashboard_url},
        ],
    }
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]}


def build_notification(instance: DagsterInstance, config: SyncConfig, settings: NotificationsConfig,
                       run_id: str, event: str, secrets: list[str]) -> Notification:
    from dhis_sync_pipeline.notifications.secrets import scrub

    row = read_run(instance, run_id)
    rejections = rejected_objects(instance, run_id)
    dagster_url = settings.dagster_url or os.environ.get(DAGSTER_URL_ENV) or DEFAULT_DAGSTER_URL
    dashboard_url = settings.dashboard_url or os.environ.get(DASHBOARD_URL_ENV) or DEFAULT_DASHBOARD_URL
    notification = Notification(
        event=event,
        config_id=config.id,
        config_name=config.name,
        source=config.source,
        destination=config.destination,
        run_id=run_id,
        status=row.status,
        started_by=row.started_by,
        start_time=row.start_time,
        end_time=row.end_time,
        duration_seconds=row.duration_seconds,
        counts={name: getattr(row, name) for name in ("read", "created", "updated", "deleted", "ignored", "rejected")},
        failed_step=row.failed_step,
        failure=row.failure,
        rejections=[_rejection_line(r) for r in rejections[:FIRST_REJECTIONS]],
        rejected_total=len(rejections),
        run_url=f"{dagster_url.rstrip('/')}/runs/{run_id}",
        dashboard_url=f"{dashboard_url.rstrip('/')}/auto-sync/{config.id}/history/#run-{run_id}",
    )
    for name in ("config_name", "failed_step", "failure", "started_by"):
        setattr(notification, name, scrub(getattr(notification, name), secrets))
    notification.rejections = [scrub(line, secrets) for line in notification.rejections]
    return notification


def _rejection_line(row: dict[str, Any]) -> str:
    value_key = "/".join(str(row[k]) for k in ("dataElement", "period", "orgUnit") if row.get(k))
    where = " ".join(str(part) for part in (row.get("type"), row.get("uid") or value_key) if part)
    return f"{row['resource']}: {row.get('errorCode') or 'rejected'} {where}: {row.get('message', '')}".strip()
