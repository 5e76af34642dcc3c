"""Alerts: channels (SMTP, webhooks, ping URLs) and incident state.

Shared by the monitor, the backups and the restore drill. An incident alerts
once when it opens, is re-sent while it lasts (every ``resend_after``), and
sends one "resolved" message when it closes. A channel that fails is logged
and does not stop the others.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Literal, Protocol

import requests

from supermark_ops import files
from supermark_ops.config import AlertSettings

log = logging.getLogger(__name__)


class AlertError(Exception):
    """A channel could not deliver; the message is safe to log (never a webhook's URL)."""


Kind = Literal["failure", "reminder", "resolved"]
HEALTHY, UNHEALTHY, NOT_CONFIGURED = "healthy", "unhealthy", "not_configured"


@dataclass(frozen=True)
class Alert:
    kind: Kind
    check: str
    reason: str
    host: str
    at: datetime
    since: datetime

    @property
    def subject(self) -> str:
        word = {"failure": "FAILING", "reminder": "STILL FAILING", "resolved": "RESOLVED"}[self.kind]
        return f"[supermark {self.host}] {word}: {self.check}"

    @property
    def text(self) -> str:
        lasted = self.at - self.since
        minutes = int(lasted.total_seconds() // 60)
        if self.kind == "resolved":
            return (
                f"{self.check} on {self.host} is healthy again after {minutes} min. "
                f"Last problem: {self.reason}"
            )
        return f"{self.check} on {self.host} is unhealthy (for {minutes} min): {self.reason}"


class Channel(Protocol):
    name: str

    def send(self, alert: Alert) -> None: ...


@dataclass
class SMTPChannel:
    """E-mail over SMTP (Resend's SMTP relay or any other)."""

    host: str
    port: int
    sender: str
    recipients: Sequence[str]
    username: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = True
    tls: bool = False
    timeout: float = 15.0
    name: str = "smtp"

    def send(self, alert: Alert) -> None:
        msg = EmailMessage()
        msg["Subject"] = alert.subject
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg.set_content(alert.text + "\n")
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.tls:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.starttls and not self.tls:
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(msg)


@dataclass
class WebhookChannel:
    """A JSON POST: generic, or shaped for Slack or Discord incoming webhooks."""

    url: str = field(repr=False)  # webhook URLs embed their secret
    style: Literal["generic", "slack", "discord"] = "generic"
    timeout: float = 10.0
    name: str = "webhook"
    verify: str | bool = True  # a CA bundle's path for a private CA

    def payload(self, alert: Alert) -> dict[str, object]:
        if self.style == "slack":
            return {"text": f"*{alert.subject}*\n{alert.text}"}
        if self.style == "discord":
            return {"content": f"**{alert.subject}**\n{alert.text}"}
        return {
            "event": alert.kind,
            "check": alert.check,
            "host": alert.host,
            "reason": alert.reason,
            "at": alert.at.isoformat(),
            "since": alert.since.isoformat(),
            "subject": alert.subject,
            "text": alert.text,
        }

    def send(self, alert: Alert) -> None:
        # A webhook's URL is its secret (Slack, Discord): requests' own messages quote it, so only
        # the status code or the kind of failure is told.
        try:
            resp = requests.post(self.url, json=self.payload(alert), timeout=self.timeout, verify=self.verify)
        except requests.RequestException as exc:
            raise AlertError(f"{type(exc).__name__} (the webhook's URL is a secret: not shown)") from None
        if resp.status_code >= 400:
            raise AlertError(f"HTTP {resp.status_code}")


def channels(settings: AlertSettings, verify: str | bool = True) -> list[Channel]:
    """The channels of an `alerts` settings block, as the monitor and the backup tools read it;
    `verify` is the HTTPS trust of the webhooks (True: the public CAs, or a CA bundle's path)."""
    out: list[Channel] = []
    if settings.smtp:
        out.append(SMTPChannel(**asdict(settings.smtp)))
    out += [WebhookChannel(url=hook.url, style=hook.style, verify=verify) for hook in settings.webhooks]
    return out


def dispatch(alerts: Iterable[Alert], channels: Sequence[Channel]) -> list[str]:
    """Send every alert to every channel; returns the failures (already logged)."""
    failures: list[str] = []
    for alert in alerts:
        for channel in channels:
            try:
                channel.send(alert)
                log.info("alert sent via %s: %s", channel.name, alert.subject)
            except AlertError as exc:
                failure = f"{channel.name}: {exc}"
            except requests.RequestException as exc:  # a channel's request: its text may hold the URL
                failure = f"{channel.name}: {type(exc).__name__}"
            except Exception as exc:  # one broken channel must not silence the others
                failure = f"{channel.name}: {type(exc).__name__}: {exc}"
            else:
                continue
            log.error("alert NOT sent via %s", failure)
            failures.append(failure)
    return failures


PingEvent = Literal["start", "success", "fail"]


def ping(
    url: str, event: PingEvent, body: str = "", timeout: float = 10.0, verify: str | bool = True
) -> None:
    """A dead-man's switch ping, healthchecks.io-style: URL/start when a run begins, URL when it
    succeeded, URL/fail when it failed, each a POST whose body (the run's result) the service keeps
    as the ping's log. The outside service alerts when the pings stop. Never raises."""
    if not url:
        return
    target = url if event == "success" else f"{url.rstrip('/')}/{event}"
    try:
        requests.post(target, data=body.encode()[:100_000], timeout=timeout, verify=verify)
    except requests.RequestException as exc:
        log.error("ping %s failed: %s", event, type(exc).__name__)


@dataclass
class Incident:
    since: str
    last_sent: str
    reason: str


class IncidentTracker:
    """Decides which alerts a new set of check statuses calls for; persists its state."""

    def __init__(self, state_file: Path, host: str, resend_after: timedelta) -> None:
        self.state_file = state_file
        self.host = host
        self.resend_after = resend_after
        self.open: dict[str, Incident] = {}
        if state_file.exists():
            data = json.loads(state_file.read_text())
            self.open = {k: Incident(**v) for k, v in data.get("open", {}).items()}

    def update(self, statuses: Mapping[str, tuple[str, str]], now: datetime | None = None) -> list[Alert]:
        """statuses: check name -> (status, reason). Returns the alerts to send now."""
        now = now or datetime.now(UTC)
        alerts: list[Alert] = []
        for check, (status, reason) in statuses.items():
            incident = self.open.get(check)
            if status == UNHEALTHY:
                if incident is None:
                    self.open[check] = Incident(now.isoformat(), now.isoformat(), reason)
                    alerts.append(Alert("failure", check, reason, self.host, now, now))
                elif now - datetime.fromisoformat(incident.last_sent) >= self.resend_after:
                    incident.last_sent, incident.reason = now.isoformat(), reason
                    since = datetime.fromisoformat(incident.since)
                    alerts.append(Alert("reminder", check, reason, self.host, now, since))
                else:
                    incident.reason = reason
            elif incident is not None:  # healthy, or no longer configured
                del self.open[check]
                since = datetime.fromisoformat(incident.since)
                alerts.append(Alert("resolved", check, incident.reason, self.host, now, since))
        self.save()
        return alerts

    def save(self) -> None:
        files.write_json(self.state_file, {"open": {k: asdict(v) for k, v in self.open.items()}})
