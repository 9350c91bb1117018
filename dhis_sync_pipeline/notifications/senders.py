"""Delivery: a chat webhook over HTTPS (requests + urllib3's Retry) and e-mail over SMTP (smtplib).

Each is retried a bounded number of times (a sensor tick must end) and raises `SendError` with a
scrubbed reason when it still fails; the sensor logs it and goes on, so no sync ever fails
because a message could not be sent.
"""

from __future__ import annotations

import smtplib
import ssl
import time

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from dhis_sync_pipeline.config import EmailNotification
from dhis_sync_pipeline.notifications.message import Notification
from dhis_sync_pipeline.notifications.secrets import scrub

WEBHOOK_TIMEOUT = (5, 15)  # connect, read (seconds)
WEBHOOK_RETRY = Retry(total=3, backoff_factor=0.5, status_forcelist=(429, 500, 502, 503, 504),
                      allowed_methods=None, respect_retry_after_header=True, raise_on_status=False)
SMTP_TIMEOUT = 15
SMTP_ATTEMPTS = 3
SMTP_BACKOFF = 1.0  # seconds, doubled after each failed attempt
PERMANENT = (smtplib.SMTPAuthenticationError, smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused,
             smtplib.SMTPNotSupportedError, smtplib.SMTPHeloError, ssl.SSLCertVerificationError)


class SendError(RuntimeError):
    """A message that could not be delivered; the text names the channel and never a secret."""


def send_webhook(url: str, kind: str, notification: Notification, secrets: list[str]) -> None:
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=WEBHOOK_RETRY))
    session.mount("https://", HTTPAdapter(max_retries=WEBHOOK_RETRY))
    try:
        response = session.post(url, json=notification.payload(kind), timeout=WEBHOOK_TIMEOUT)
    except requests.RequestException as exc:
        raise SendError(f"webhook ({kind}) unreachable: {scrub(str(exc), secrets)}") from None
    finally:
        session.close()
    if response.status_code >= 300:
        raise SendError(f"webhook ({kind}) answered HTTP {response.status_code}: "
                        f"{scrub(response.text[:200], secrets)}")


def send_email(settings: EmailNotification, password: str | None, notification: Notification,
               secrets: list[str]) -> None:
    message = notification.email(settings.sender, settings.to)
    delay = SMTP_BACKOFF
    for attempt in range(1, SMTP_ATTEMPTS + 1):
        try:
            with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT) as smtp:
                if settings.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if settings.username:
                    smtp.login(settings.username, password or "")
                smtp.send_message(message)
            return
        except PERMANENT as exc:
            # Refused login, sender or recipients, no STARTTLS, an untrusted certificate: trying
            # again would not change the answer.
            raise SendError(f"e-mail via {settings.smtp_host}:{settings.smtp_port} refused: "
                            f"{scrub(f'{type(exc).__name__}: {exc}', secrets)}") from None
        except OSError as exc:  # smtplib's other errors are OSErrors too: the server is away or hung up
            if attempt == SMTP_ATTEMPTS:
                raise SendError(f"e-mail via {settings.smtp_host}:{settings.smtp_port} failed after "
                                f"{attempt} attempts: {scrub(f'{type(exc).__name__}: {exc}', secrets)}") from None
            time.sleep(delay)
            delay *= 2
