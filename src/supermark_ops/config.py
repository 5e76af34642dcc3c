"""The host configs: one dataclass per YAML file a role writes on the host and a tool reads.

    BackupConfig   /etc/supermark-ops/backup.yml   role backup   supermark-ops backup
    MonitorConfig  /etc/supermark-ops/monitor.yml  role monitor  supermark-ops monitor

`load` reads and checks a file; `from_mapping` builds the same from a dict (the tests build
their configs through it). Checking happens here and only here: a missing key, a key the
class does not know (a typo), or a value of the wrong type stops the tool with a message that
names the file and the key ("backup.yml: offsite.bucket is missing"); no secret value is ever
echoed. A null value means "not given" (the default).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

import yaml

from supermark_ops.errors import OpsError

STATE_DIR = Path("/var/lib/supermark-ops")


class ConfigError(OpsError):
    """A host config file is missing or wrong; the message names the file and the key."""


# -- shared sections ---------------------------------------------------------------


@dataclass(frozen=True)
class BucketSettings:
    """An S3-compatible bucket (MinIO, Spaces, AWS), optionally a key prefix inside it."""

    endpoint: str
    bucket: str
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    region: str = "us-east-1"
    prefix: str = ""
    attempts: int = 3  # tries per request (a dropped connection or a 5xx is tried again)


@dataclass(frozen=True)
class SMTPSettings:
    host: str
    sender: str
    recipients: list[str]
    port: int = 587
    username: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = True
    tls: bool = False


@dataclass(frozen=True)
class WebhookSettings:
    url: str = field(repr=False)  # webhook URLs embed their secret
    style: Literal["generic", "slack", "discord"] = "generic"


@dataclass(frozen=True)
class AlertSettings:
    smtp: SMTPSettings | None = None
    webhooks: list[WebhookSettings] = field(default_factory=list)
    resend_hours: float = 6  # the monitor re-sends a lasting failure this often


@dataclass(frozen=True)
class PostgresSettings:
    """Where the stack's Postgres is asked: through its container (docker exec, the local
    socket: no password) when `container` is set, else at host (a socket folder or a name) and port."""

    user: str
    database: str
    container: str = ""
    host: str = ""
    port: int = 5432


# -- backup.yml ----------------------------------------------------------------------


@dataclass(frozen=True)
class Offsite(BucketSettings):
    same_host: bool = False  # the role found the target on this droplet: warned about on every run
    age_recipient: str = ""  # encrypt to this age public key
    # Retention's deletes use these keys when given, so the keys that upload need no right to delete
    # (with bucket versioning or object lock, a leaked upload key cannot destroy the copies).
    prune_access_key: str = field(default="", repr=False)
    prune_secret_key: str = field(default="", repr=False)


@dataclass(frozen=True)
class Keep:
    daily: int = 7
    weekly: int = 4
    monthly: int = 6
    safety_days: int = 30  # a restore's safety backup is kept this long, whatever the counts say


@dataclass(frozen=True)
class App:
    """The app a restore stops, starts and waits for."""

    container: str = ""
    health_url: str = ""
    health_timeout: float = 180


@dataclass(frozen=True)
class BackupConfig:
    ROLE: ClassVar[str] = "backup"

    directory: Path
    postgres: PostgresSettings
    host: str = ""  # the label in alerts; empty: this machine's hostname
    # The key that signs manifests (HMAC-SHA256); a restore refuses a manifest it did not sign.
    signing_key_file: Path | None = None
    state_dir: Path = STATE_DIR
    # pg_dump -Z (checked by backup.common.compression). A whole number is a gzip level: the
    # template before zstd wrote `compress: 6`, and a host keeps that file until role backup
    # runs again, while ops_tools may already have installed this package (an upgrade).
    compress: str = field(default="zstd:1", metadata={"number_as_string": True})
    documents: BucketSettings | None = None
    offsite: Offsite | None = None
    keep: Keep = field(default_factory=Keep)
    ping_url: str = ""
    ca_file: str = ""
    alerts: AlertSettings = field(default_factory=AlertSettings)
    app: App = field(default_factory=App)


# -- monitor.yml ---------------------------------------------------------------------


@dataclass(frozen=True)
class Compose:
    project: str
    services: list[str]


@dataclass(frozen=True)
class Backups:
    directory: Path
    max_age_hours: float = 26
    drill_result: Path | None = None


@dataclass(frozen=True)
class Disk:
    paths: list[str] = field(default_factory=lambda: ["/"])
    max_percent: float = 85


@dataclass(frozen=True)
class Memory:
    max_percent: float = 90


@dataclass(frozen=True)
class TLS:
    host: str
    port: int = 443
    min_days: float = 14
    server_name: str = ""
    cafile: str = ""


@dataclass(frozen=True)
class Tinybird:
    token: str = field(repr=False)
    api_url: str = "https://api.tinybird.co"


@dataclass(frozen=True)
class Trigger:
    secret_key: str = field(repr=False)
    api_url: str = "https://api.trigger.dev"


@dataclass(frozen=True)
class QStash:
    token: str = field(repr=False)
    current_signing_key: str = field(repr=False)
    next_signing_key: str = field(repr=False)
    api_url: str = "https://qstash.upstash.io"


@dataclass(frozen=True)
class Services:
    """What the deploy switched on, so the monitor knows what must work: a listed service that
    the app reports off, or that fails its own check here, is unhealthy (and alerts)."""

    expected: list[str] = field(default_factory=list)  # names in monitor.checks.SERVICES
    tinybird: Tinybird | None = None
    trigger: Trigger | None = None
    qstash: QStash | None = None
    # The conversion service's container (Gotenberg, on the internal network only): its health
    # check (GET /health) as Docker last ran it.
    conversion_container: str = ""


@dataclass(frozen=True)
class MonitorConfig:
    ROLE: ClassVar[str] = "monitor"

    host: str = ""
    timeout: float = 10  # seconds per check
    state_dir: Path = STATE_DIR
    ca_file: str = ""
    app_url: str = ""
    postgres: PostgresSettings | None = None
    storage: BucketSettings | None = None
    compose: Compose | None = None
    backups: Backups | None = None
    disk: Disk | None = None
    memory: Memory | None = None
    tls: TLS | None = None
    services: Services = field(default_factory=lambda: Services())
    ping_url: str = ""  # a dead-man's switch (healthchecks.io-style): start, success, fail
    alerts: AlertSettings = field(default_factory=AlertSettings)


# -- loading -------------------------------------------------------------------------

T = TypeVar("T")


def load(path: Path, kind: type[T]) -> T:
    """The config file at `path`, read and checked as `kind` (BackupConfig or MonitorConfig)."""
    role = getattr(kind, "ROLE", "its")
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"No config at {path}: the {role} role writes it.") from None
    except OSError as exc:
        raise ConfigError(f"{path} cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    return from_mapping(kind, data, path.name)


def from_mapping(kind: type[T], data: object, source: str = "config") -> T:
    """`data` checked and built into `kind`; errors start with `source`."""
    return typing.cast(T, _convert(kind, data, source, ""))


def _convert(tp: Any, value: object, source: str, key: str) -> Any:
    where = f"{source}: {key}" if key else source
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(inner, value, source, key)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a mapping of settings, not {_kind(value)}")
        return _build(typing.cast(type, tp), value, source, key)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list, not {_kind(value)}")
        (inner,) = typing.get_args(tp)
        return [_convert(inner, v, source, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise ConfigError(f"{where} must be one of {', '.join(map(str, choices))}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, not {_kind(value)}")
        return value
    if tp in (int, float):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (tp is int and value != int(value))
        ):
            raise ConfigError(
                f"{where} must be a{'n integer' if tp is int else ' number'}, not {_kind(value)}"
            )
        return tp(value)
    if tp in (str, Path):
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, not {_kind(value)}")
        return tp(value)
    raise TypeError(f"no conversion for {tp!r}")  # a field type this loader does not know: a bug here


def _build(kind: type, data: Mapping[Any, Any], source: str, prefix: str) -> Any:
    hints = typing.get_type_hints(kind)
    names = {f.name for f in dataclasses.fields(kind)}
    for name in data:
        if name not in names:
            raise ConfigError(
                f"{source}: unknown key {(prefix + '.' if prefix else '') + str(name)!r} "
                f"(known here: {', '.join(sorted(names))})"
            )
    values = {}
    for f in dataclasses.fields(kind):
        key = f"{prefix}.{f.name}" if prefix else f.name
        if data.get(f.name) is None:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{source}: {key} is missing")
            continue
        value = data[f.name]
        if f.metadata.get("number_as_string") and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        values[f.name] = _convert(hints[f.name], value, source, key)
    return kind(**values)


def _kind(value: object) -> str:
    """A value's YAML type, never the value (it may be a secret)."""
    return {dict: "a mapping", list: "a list", str: "a string", bool: "true/false", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )
