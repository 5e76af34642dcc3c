"""The host configs: each role's template, rendered by Ansible's own templating with the role's
defaults (and its dependencies'), loads through supermark_ops.config, the loader the tools use;
and a wrong file stops the tool with a message that names the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from supermark_ops.config import BackupConfig, ConfigError, MonitorConfig, from_mapping, load

ROOT = Path(__file__).resolve().parent.parent
# Each role after the roles it depends on (meta/main.yml): their defaults and vars are its too.
CHAIN = {"backup": ["ops_tools", "stack", "backup"], "monitor": ["ops_tools", "monitor"]}


def render(role: str, template: str, settings: dict[str, Any], out: Path) -> Path:
    loader = DataLoader()
    variables: dict[str, Any] = {"inventory_hostname": "droplet-1", "ansible_managed": "managed"}
    for name in CHAIN[role]:
        for part in ("defaults", "vars"):
            path = ROOT / "roles" / name / part / "main.yml"
            if path.exists():
                variables.update(loader.load_from_file(str(path), trusted_as_template=True) or {})
    variables.update(settings)
    text = Templar(loader=loader, variables=variables).template(
        trust_as_template((ROOT / "roles" / role / "templates" / template).read_text())
    )
    out.write_text(text)
    return out


BUCKET = {"endpoint": "https://files.example.com", "bucket": "docs", "access_key": "ak", "secret_key": "sk"}
SMTP = {
    "host": "smtp.example.com",
    "sender": "ops@example.com",
    "recipients": ["me@example.com"],
    "port": 465,
}
HOOKS = [{"url": "https://hooks.example.com/x", "style": "slack"}]


def test_backup_config_with_the_role_defaults(tmp_path: Path) -> None:
    cfg = load(render("backup", "backup.yml.j2", {}, tmp_path / "backup.yml"), BackupConfig)
    # The containers are the stack's, named once by role stack.
    assert cfg.postgres.container == "supermark-postgres-1" and cfg.app.container == "supermark-app-1"
    assert (cfg.postgres.user, cfg.postgres.database) == ("supermark", "supermark")
    assert cfg.directory == Path("/var/backups/supermark") and cfg.state_dir == Path("/var/lib/supermark-ops")
    assert cfg.documents is None and cfg.offsite is None and cfg.host == "droplet-1"
    assert (cfg.keep.daily, cfg.keep.weekly, cfg.keep.monthly, cfg.keep.safety_days) == (7, 4, 6, 30)
    # The signing key where the role keeps it: the stack's folder, in env-file form.
    assert cfg.signing_key_file == Path("/opt/supermark/backup/backup.env")
    # pg_dump's compression: zstd by default (docs/benchmarks/backup.md), a string the tool checks.
    assert cfg.compress == "zstd:1"


def test_backup_config_with_every_setting(tmp_path: Path) -> None:
    settings = {
        "backup_documents": BUCKET,
        "backup_offsite": {
            **BUCKET,
            "endpoint": "https://fra1.digitaloceanspaces.com",
            "prefix": "d1/",
            "prune_access_key": "pk",
            "prune_secret_key": "ps",
        },
        "backup_keep_safety_days": 45,
        "backup_age_recipient": "age1" + "q" * 58,
        "backup_ca_file": "/etc/ssl/certs/ca-certificates.crt",
        "backup_ping_url": "https://hc.example.com/ping/x",
        "backup_app_health_url": "https://docs.example.com/api/health",
        "backup_alert_smtp": SMTP,
        "backup_alert_webhooks": HOOKS,
    }
    cfg = load(render("backup", "backup.yml.j2", settings, tmp_path / "backup.yml"), BackupConfig)
    assert cfg.documents is not None and cfg.documents.bucket == "docs"
    assert cfg.offsite is not None and cfg.offsite.prefix == "d1/" and cfg.offsite.same_host is False
    assert cfg.offsite.age_recipient.startswith("age1") and cfg.keep.safety_days == 45
    assert (cfg.offsite.prune_access_key, cfg.offsite.prune_secret_key) == ("pk", "ps")
    assert cfg.app.health_url.endswith("/api/health") and cfg.ping_url.endswith("/x")
    assert cfg.alerts.smtp is not None and cfg.alerts.smtp.port == 465
    assert cfg.alerts.webhooks[0].style == "slack"
    assert cfg.ca_file == "/etc/ssl/certs/ca-certificates.crt"


def test_monitor_config_with_the_role_defaults(tmp_path: Path) -> None:
    cfg = load(render("monitor", "monitor.yml.j2", {}, tmp_path / "monitor.yml"), MonitorConfig)
    assert cfg.host == "droplet-1" and cfg.timeout == 10
    assert cfg.disk is not None and cfg.disk.paths == ["/"] and cfg.memory is not None
    assert cfg.postgres is None and cfg.storage is None and cfg.backups is None and cfg.app_url == ""


def test_monitor_config_with_every_check(tmp_path: Path) -> None:
    settings = {
        "monitor_app_url": "https://docs.example.com",
        "monitor_postgres": {
            "container": "supermark-postgres-1",
            "user": "supermark",
            "database": "supermark",
        },
        "monitor_storage": BUCKET,
        "monitor_compose_project": "supermark",
        "monitor_compose_services": ["postgres", "app"],
        "monitor_backup_dir": "/var/backups/supermark",
        "monitor_drill_result_file": "/var/lib/supermark-ops/drill-last.json",
        "monitor_tls_host": "docs.example.com",
        "monitor_ca_file": "/etc/ssl/certs/ca-certificates.crt",
        "monitor_alert_smtp": SMTP,
        "monitor_alert_webhooks": HOOKS,
    }
    cfg = load(render("monitor", "monitor.yml.j2", settings, tmp_path / "monitor.yml"), MonitorConfig)
    assert cfg.postgres is not None and cfg.postgres.container == "supermark-postgres-1"
    assert cfg.storage is not None and cfg.compose is not None and cfg.compose.services == ["postgres", "app"]
    assert cfg.backups is not None and cfg.backups.drill_result == Path(
        "/var/lib/supermark-ops/drill-last.json"
    )
    assert cfg.tls is not None and cfg.tls.min_days == 14
    assert cfg.alerts.resend_hours == 6 and cfg.alerts.webhooks[0].url.startswith("https://hooks")


def test_a_misspelt_role_setting_is_named(tmp_path: Path) -> None:
    """The role passes backup_documents through as given: the tool stops, naming the key."""
    settings = {"backup_documents": {**BUCKET, "bukket": "docs"}}
    path = render("backup", "backup.yml.j2", settings, tmp_path / "backup.yml")
    with pytest.raises(ConfigError, match=r"backup.yml: unknown key 'documents.bukket'"):
        load(path, BackupConfig)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"directory": "/b"}, "backup.yml: postgres is missing"),
        ({"directory": "/b", "postgres": {"user": "u"}}, "backup.yml: postgres.database is missing"),
        (
            {"directory": "/b", "postgres": {"user": "u", "database": "d"}, "compress": [6]},
            "compress must be a string, not a list",
        ),
        (
            {
                "directory": "/b",
                "postgres": {"user": "u", "database": "d"},
                "offsite": dict(BUCKET, secret_key=7),
            },
            "offsite.secret_key must be a string, not a number",
        ),
        (
            {
                "directory": "/b",
                "postgres": {"user": "u", "database": "d"},
                "alerts": {"webhooks": [{"url": "x", "style": "teams"}]},
            },
            r"alerts.webhooks\[0\].style must be one of generic, slack, discord",
        ),
        (
            {"directory": "/b", "postgres": {"user": "u", "database": "d"}, "keep": [7]},
            "keep must be a mapping",
        ),
    ],
)
def test_errors_name_the_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_mapping(BackupConfig, data, "backup.yml")


def test_a_secret_is_never_echoed(tmp_path: Path) -> None:
    path = tmp_path / "monitor.yml"
    path.write_text(yaml.safe_dump({"storage": dict(BUCKET, secret_key=["hunter2-secret"])}))
    with pytest.raises(ConfigError) as err:
        load(path, MonitorConfig)
    assert "storage.secret_key must be a string, not a list" in str(err.value)
    assert "hunter2" not in str(err.value)


def test_a_missing_file_says_which_role_writes_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="the monitor role writes it"):
        load(tmp_path / "monitor.yml", MonitorConfig)
