"""DigitalOcean provisioning against the API stand-in (tests/do_standin.py).

Every request is validated against DigitalOcean's OpenAPI specification by
the stand-in; each test also asserts that no request or response broke it.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from do_standin import DOStandIn
from supermark_ops.digitalocean import resources as res
from supermark_ops.digitalocean.api import DOClient, DOError
from supermark_ops.digitalocean.provision import ProvisionSpec, destroy, inventory, provision, validate
from supermark_ops.digitalocean.resources import ssh_key_fingerprint

PROJECT = "4e1bfbc3-dc3e-41f2-a18f-1b4d7ba71679"
PUBKEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHN1cGVybWFyay1vcHMtdGVzdC1rZXktMDEyMzQ1Njc4 op@laptop"
OPERATOR = "operator@example.com"  # verified on the stand-in's account
# What Resend lists for a sender domain (the DKIM key shortened).
RESEND_RECORDS = [
    {"type": "TXT", "name": "resend._domainkey", "data": "p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDx"},
    {"type": "MX", "name": "send", "data": "feedback-smtp.us-east-1.amazonses.com", "priority": 10},
    {"type": "TXT", "name": "send", "data": "v=spf1 include:amazonses.com ~all"},
]


def client_for(standin: DOStandIn, token: str | None = None) -> DOClient:
    return DOClient(token or standin.token, endpoint=standin.url, sleep=lambda _s: None)


def spec_for(standin: DOStandIn, **overrides: object) -> ProvisionSpec:
    spec = ProvisionSpec(
        token=standin.token,
        name="supermark",
        region="nyc3",
        size="s-2vcpu-4gb",
        domain="example.com",
        ssh_public_key=PUBKEY,
        ssh_cidrs=["203.0.113.0/24"],
        volume_size_gib=20,
        volume_name="supermark-data",
        reserved_ip=True,
        project_id=PROJECT,
        watch_emails=[OPERATOR],
        mail_records=RESEND_RECORDS,
    )
    return replace(spec, **overrides)  # type: ignore[arg-type]


def creates(standin: DOStandIn) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in standin.writes():
        key = f"{r.method} {r.path}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def test_first_run_creates_each_resource_once(standin: DOStandIn) -> None:
    result = provision(client_for(standin), spec_for(standin))
    assert result["changed"] is True
    writes = creates(standin)
    for path in ("/v2/account/keys", "/v2/droplets", "/v2/volumes", "/v2/reserved_ips", "/v2/firewalls"):
        assert writes.pop(f"POST {path}") == 1, path
    volume_id = next(iter(standin.volumes))
    assert writes.pop(f"POST /v2/volumes/{volume_id}/actions") == 1
    # A and AAAA for the app (@) and files names, and Resend's three.
    assert writes.pop("POST /v2/domains/example.com/records") == 7
    assert writes.pop(f"POST /v2/projects/{PROJECT}/resources") == 1
    check_id = next(iter(standin.checks))
    assert writes.pop("POST /v2/uptime/checks") == 1
    assert writes.pop(f"POST /v2/uptime/checks/{check_id}/alerts") == 3
    assert writes.pop("POST /v2/monitoring/alerts") == 3
    assert writes == {}
    droplet_id, volume_id = next(iter(standin.droplets)), next(iter(standin.volumes))
    assert standin.projects[PROJECT] == [
        f"do:droplet:{droplet_id}",
        f"do:volume:{volume_id}",
        "do:floatingip:127.0.1.1",
    ]
    droplet = next(iter(standin.droplets.values()))
    assert droplet["status"] == "active"
    assert sorted(droplet["tags"]) == ["supermark"]
    body = next(r.body for r in standin.requests if r.method == "POST" and r.path == "/v2/droplets")
    assert body["image"] == "ubuntu-24-04-x64"
    assert body["monitoring"] is True
    assert "name: deploy" in body["user_data"] and PUBKEY in body["user_data"]
    assert body["ssh_keys"] == [next(iter(standin.keys))]
    assert result["ipv4"] == "127.0.1.1"  # the reserved IP, not the droplet's own
    records = {(r["type"], r["name"], r["data"]) for r in standin.records["example.com"]}
    assert records == {
        ("A", "@", "127.0.1.1"),
        ("A", "files", "127.0.1.1"),
        ("AAAA", "@", "::1"),
        ("AAAA", "files", "::1"),
        ("TXT", "resend._domainkey", RESEND_RECORDS[0]["data"]),
        ("MX", "send", "feedback-smtp.us-east-1.amazonses.com"),
        ("TXT", "send", "v=spf1 include:amazonses.com ~all"),
    }
    firewall = next(iter(standin.firewalls.values()))
    assert firewall["tags"] == ["supermark"]
    ssh_rule = next(r for r in firewall["inbound_rules"] if r["ports"] == "22")
    assert ssh_rule["sources"]["addresses"] == ["203.0.113.0/24"]


def test_second_run_sends_no_create_or_update(standin: DOStandIn) -> None:
    provision(client_for(standin), spec_for(standin))
    before = len(standin.writes())
    result = provision(client_for(standin), spec_for(standin))
    assert result["changed"] is False
    assert result["actions"] == []
    assert len(standin.writes()) == before
    assert len(standin.droplets) == 1 and len(standin.keys) == 1


def test_a_changed_firewall_rule_is_updated_in_place(standin: DOStandIn) -> None:
    provision(client_for(standin), spec_for(standin))
    firewall_id = next(iter(standin.firewalls))
    before = len(standin.writes())
    result = provision(client_for(standin), spec_for(standin, ssh_cidrs=["198.51.100.7/32"]))
    new_writes = standin.writes()[before:]
    assert [(w.method, w.path) for w in new_writes] == [("PUT", f"/v2/firewalls/{firewall_id}")]
    assert result["actions"] == ["updated firewall supermark-fw"]
    assert len(standin.firewalls) == 1
    rule = next(r for r in standin.firewalls[firewall_id]["inbound_rules"] if r["ports"] == "22")
    assert rule["sources"]["addresses"] == ["198.51.100.7/32"]


def test_dry_run_writes_nothing_and_says_what_it_would_do(standin: DOStandIn) -> None:
    result = provision(client_for(standin), spec_for(standin), dry_run=True)
    assert standin.writes() == []
    assert "create droplet supermark" in result["actions"]
    assert "upload SSH key supermark-ops" in result["actions"]


def test_bad_token_is_a_clear_error_without_the_token(standin: DOStandIn) -> None:
    secret = "dop_v1_" + "f" * 64
    with pytest.raises(DOError) as exc:
        provision(client_for(standin, token=secret), spec_for(standin, token=secret))
    message = str(exc.value)
    assert "401" in message and "SUPERMARK_DO_TOKEN" in message
    assert secret not in message
    assert secret not in repr(client_for(standin, token=secret))
    assert secret not in repr(spec_for(standin, token=secret))


def test_an_invalid_size_is_reported_from_the_422(standin: DOStandIn) -> None:
    with pytest.raises(DOError) as exc:
        provision(client_for(standin), spec_for(standin, size="s-8vcpu-16gb"))
    assert "422" in str(exc.value) and "invalid size" in str(exc.value)
    assert standin.droplets == {}


def test_rate_limits_are_retried(standin: DOStandIn) -> None:
    standin.rate_limit_next = 3
    result = provision(client_for(standin), spec_for(standin))
    assert result["changed"] is True
    assert [r.status for r in standin.requests[:3]] == [429, 429, 429]
    assert len(standin.droplets) == 1


def test_rate_limit_beyond_the_retries_fails_clearly(standin: DOStandIn) -> None:
    standin.rate_limit_next = 100
    client = DOClient(standin.token, endpoint=standin.url, sleep=lambda _s: None, max_retries=2)
    with pytest.raises(DOError, match="Rate limited even after retrying"):
        provision(client, spec_for(standin))
    assert len(standin.requests) == 3


def test_a_droplet_stuck_in_new_fails_with_advice(standin: DOStandIn) -> None:
    standin.droplet_stuck_in_new = True
    with pytest.raises(DOError, match=r"is 'new' after 30 s, not active.*destroy it if it is stuck"):
        provision(client_for(standin), spec_for(standin), active_timeout=30)


def test_dns_outside_digitalocean_lists_the_records(standin: DOStandIn) -> None:
    result = provision(client_for(standin), spec_for(standin, domain="elsewhere.org", reserved_ip=False))
    assert result["dns_managed"] is False
    assert "files.elsewhere.org. 300 IN A 127.0.0.1" in result["dns_records_to_create"]
    assert not any("/domains/" in r.path for r in standin.writes())


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"token": ""}, "no token"),
        ({"region": "mars1"}, "droplet_region 'mars1' is not a DigitalOcean region"),
        ({"size": "huge"}, "droplet_size 'huge' is not a size slug"),
        ({"domain": "not a domain"}, "the domain 'not a domain' does not parse"),
        ({"domain": "-bad-.com"}, "does not parse"),
        ({"ssh_public_key": ""}, "no SSH public key"),
        ({"ssh_cidrs": ["10.0.0.0/40"]}, "'10.0.0.0/40', which is not a network"),
        ({"name": "Super_Mark"}, "droplet_name 'Super_Mark' is not a hostname"),
        ({"project_id": "my-project"}, "droplet_project_id 'my-project' is not a project UUID"),
        ({"watch_emails": []}, "droplet_watch_emails is empty"),
        (
            {"watch_emails": ["operator"]},
            "droplet_watch_emails has 'operator', which is not an e-mail address",
        ),
        ({"watch_regions": ["mars"]}, "droplet_watch_regions must list some of us_east"),
        ({"watch_disk_percent": 120}, "droplet_watch_disk_percent is 120"),
        ({"monitoring": False}, "keep droplet_monitoring true"),
        ({"domain": "", "mail_records": []}, "the uptime check needs the app's name"),
        (
            {"mail_records": [{"type": "SPF", "name": "send", "data": "x"}]},
            "type must be one of TXT, MX, CNAME",
        ),
        (
            {"mail_records": [{"type": "MX", "name": "send", "data": "mx.example.net"}]},
            "needs an integer priority",
        ),
        ({"mail_records": [{"type": "TXT", "name": "send id", "data": "x"}]}, "name must be a record name"),
        ({"mail_records": RESEND_RECORDS[2:] * 2}, "a second TXT record named send"),
    ],
)
def test_bad_input_fails_before_any_request(
    standin: DOStandIn, overrides: dict[str, object], needle: str
) -> None:
    spec = spec_for(standin, **overrides)
    with pytest.raises(DOError, match="Provisioning input is invalid") as exc:
        validate(spec)
    assert needle in str(exc.value)
    with pytest.raises(DOError):
        provision(DOClient("x", endpoint=standin.url), spec) if spec.token else validate(spec)
    assert standin.requests == []


def test_fingerprint_matches_ssh_keygen_format() -> None:
    fingerprint = ssh_key_fingerprint(PUBKEY)
    assert len(fingerprint.split(":")) == 16


def test_inventory_finds_droplets_by_tag(standin: DOStandIn) -> None:
    provision(client_for(standin), spec_for(standin, reserved_ip=False))
    inv = inventory(client_for(standin), "supermark")
    assert inv["supermark"]["hosts"] == ["supermark"]
    assert inv["_meta"]["hostvars"]["supermark"]["ansible_host"] == "127.0.0.1"
    assert (
        inv["_meta"]["hostvars"]["supermark"]["ansible_ssh_common_args"]
        == "-o StrictHostKeyChecking=accept-new"
    )
    assert inventory(client_for(standin), "other-tag")["supermark"]["hosts"] == []


def test_destroy_snapshots_first_and_keeps_the_volume(standin: DOStandIn) -> None:
    spec = spec_for(standin)
    provision(client_for(standin), spec)
    planned = destroy(client_for(standin), spec, dry_run=True)
    assert planned["actions"] and standin.droplets  # a dry run deletes nothing
    result = destroy(client_for(standin), spec)
    assert standin.snapshots == ["supermark-before-destroy"]
    snapshot_at = next(
        i
        for i, r in enumerate(standin.requests)
        if r.path.endswith("/actions") and r.method == "POST" and r.body.get("type") == "snapshot"
    )
    delete_at = next(
        i for i, r in enumerate(standin.requests) if r.method == "DELETE" and "/v2/droplets/" in r.path
    )
    assert snapshot_at < delete_at
    assert standin.droplets == {} and standin.firewalls == {} and standin.reserved_ips == {}
    assert standin.records["example.com"] == []
    assert standin.checks == {} and standin.check_alerts == {} and standin.policies == {}
    assert len(standin.volumes) == 1, "the data volume must survive a destroy"
    assert "delete droplet supermark" in result["actions"]
    (volume_id,) = standin.volumes
    before = len(standin.requests)
    destroy(client_for(standin), spec, delete_volume=True)
    assert standin.volumes == {}
    # --delete-volume: the volume's own snapshot (a droplet's does not hold it), before the delete.
    assert standin.snapshots == ["supermark-before-destroy", "supermark-data-before-destroy"]
    asked = [(r.method, r.path) for r in standin.requests[before:] if volume_id in r.path]
    assert asked == [("POST", f"/v2/volumes/{volume_id}/snapshots"), ("DELETE", f"/v2/volumes/{volume_id}")]


def test_the_watch_is_what_the_operator_needs(standin: DOStandIn) -> None:
    """Uptime check on /api/health with down, latency and TLS alerts; CPU, memory, disk on the droplet."""
    result = provision(client_for(standin), spec_for(standin, reserved_ip=False))
    (check,) = standin.checks.values()
    assert check["type"] == "https" and check["target"] == "https://example.com/api/health"
    assert check["regions"] == ["eu_west", "us_east"] and check["enabled"] is True
    assert result["watch_check_id"] == check["id"]
    assert result["watch_target"] == "https://example.com/api/health"
    alerts = {a["type"]: a for a in standin.check_alerts[check["id"]].values()}
    assert set(alerts) == {"down", "latency", "ssl_expiry"}
    assert alerts["latency"]["threshold"] == 2000 and alerts["latency"]["comparison"] == "greater_than"
    assert alerts["ssl_expiry"]["threshold"] == 14
    assert all(a["notifications"] == {"email": [OPERATOR], "slack": []} for a in alerts.values())
    droplet_id = str(next(iter(standin.droplets)))
    policies = {p["type"]: p for p in standin.policies.values()}
    assert {k.rsplit("/", 1)[1]: p["value"] for k, p in policies.items()} == {
        "cpu": 90,
        "memory_utilization_percent": 90,
        "disk_utilization_percent": 85,
    }
    for policy in policies.values():
        assert policy["entities"] == [droplet_id] and policy["compare"] == "GreaterThan"
        assert policy["alerts"]["email"] == [OPERATOR] and policy["enabled"] is True


def test_a_changed_threshold_is_updated_in_place(standin: DOStandIn) -> None:
    provision(client_for(standin), spec_for(standin))
    check_id = next(iter(standin.checks))
    before = len(standin.writes())
    result = provision(client_for(standin), spec_for(standin, watch_latency_ms=5000, watch_cpu_percent=75))
    new = [(w.method, w.path.rsplit("/", 1)[0]) for w in standin.writes()[before:]]
    assert new == [("PUT", f"/v2/uptime/checks/{check_id}/alerts"), ("PUT", "/v2/monitoring/alerts")]
    assert result["actions"] == [
        "updated uptime alert 'supermark answers slower than 5000 ms'",
        "updated alert policy 'supermark CPU (supermark-ops)'",
    ]
    latency = next(a for a in standin.check_alerts[check_id].values() if a["type"] == "latency")
    assert latency["threshold"] == 5000
    assert len(standin.policies) == 3 and len(standin.check_alerts[check_id]) == 3


def test_an_unverified_operator_address_is_a_clear_error(standin: DOStandIn) -> None:
    with pytest.raises(DOError) as exc:
        provision(client_for(standin), spec_for(standin, watch_emails=["someone@elsewhere.org"]))
    message = str(exc.value)
    assert "someone@elsewhere.org is not verified" in message
    assert "droplet_watch_emails (SUPERMARK_OPERATOR_EMAIL) must be addresses verified" in message


def test_without_the_watch_nothing_is_created(standin: DOStandIn) -> None:
    provision(client_for(standin), spec_for(standin, watch_enabled=False, watch_emails=[]))
    assert standin.checks == {} and standin.policies == {}
    assert not any("/uptime/" in r.path or "/monitoring/" in r.path for r in standin.requests)


def test_dry_run_plans_the_watch_and_the_mail_records(standin: DOStandIn) -> None:
    provision(client_for(standin), spec_for(standin, watch_enabled=False, watch_emails=[], mail_records=[]))
    before = len(standin.writes())
    result = provision(client_for(standin), spec_for(standin), dry_run=True)
    assert len(standin.writes()) == before
    assert "create uptime check on https://example.com/api/health" in result["actions"]
    assert "create uptime alert 'supermark is down'" in result["actions"]
    assert "create alert policy 'supermark disk (supermark-ops)'" in result["actions"]
    assert "set MX send.example.com -> feedback-smtp.us-east-1.amazonses.com" in result["actions"]


def test_mail_records_are_sent_fully_qualified_and_a_rotated_key_is_replaced(standin: DOStandIn) -> None:
    provision(client_for(standin), spec_for(standin))
    mx = next(r.body for r in standin.requests if r.method == "POST" and (r.body or {}).get("type") == "MX")
    # Without the dot DigitalOcean would read it as feedback-smtp....amazonses.com.example.com.
    assert mx["data"] == "feedback-smtp.us-east-1.amazonses.com." and mx["priority"] == 10
    rotated = [{**RESEND_RECORDS[0], "data": "p=NEWKEY"}, *RESEND_RECORDS[1:]]
    before = len(standin.writes())
    result = provision(client_for(standin), spec_for(standin, mail_records=rotated))
    assert [w.method for w in standin.writes()[before:]] == ["PUT"]
    assert result["actions"] == ["updated TXT resend._domainkey.example.com -> p=NEWKEY"]
    dkim = [r for r in standin.records["example.com"] if r["name"] == "resend._domainkey"]
    assert [r["data"] for r in dkim] == ["p=NEWKEY"]


def test_a_txt_record_of_another_kind_at_the_same_name_is_kept(standin: DOStandIn) -> None:
    provision(client_for(standin), spec_for(standin, mail_records=[]))
    client_for(standin).post(  # the operator's own record, made as the API takes it
        "/v2/domains/example.com/records",
        res.record_body({"type": "TXT", "name": "send", "data": "google-site-verification=abc123"}, 300),
    )
    provision(client_for(standin), spec_for(standin))
    send_txt = sorted(
        r["data"] for r in standin.records["example.com"] if r["name"] == "send" and r["type"] == "TXT"
    )
    assert send_txt == ["google-site-verification=abc123", "v=spf1 include:amazonses.com ~all"]


def test_mail_records_outside_digitalocean_are_listed_in_zone_file_form(standin: DOStandIn) -> None:
    result = provision(client_for(standin), spec_for(standin, domain="elsewhere.org", reserved_ip=False))
    assert (
        "send.elsewhere.org. 300 IN MX 10 feedback-smtp.us-east-1.amazonses.com."
        in result["dns_records_to_create"]
    )
    assert (
        'send.elsewhere.org. 300 IN TXT "v=spf1 include:amazonses.com ~all"'
        in result["dns_records_to_create"]
    )
    assert "elsewhere.org. 300 IN A 127.0.0.1" in result["dns_records_to_create"]


def test_destroy_removes_the_watch_and_only_our_mail_records(standin: DOStandIn) -> None:
    spec = spec_for(standin, reserved_ip=False)
    provision(client_for(standin), spec)
    # The operator's own record in the same zone stays.
    client_for(standin).post(
        "/v2/domains/example.com/records",
        {
            "type": "TXT",
            "name": "@",
            "data": "google-site-verification=abc",
            "ttl": 300,
            "flags": None,
            "tag": None,
        },
    )
    planned = destroy(client_for(standin), spec, dry_run=True)
    assert "delete uptime check supermark /api/health (supermark-ops)" in planned["actions"]
    assert standin.checks and standin.policies
    destroy(client_for(standin), spec)
    assert standin.checks == {} and standin.check_alerts == {} and standin.policies == {}
    assert [r["data"] for r in standin.records["example.com"]] == ["google-site-verification=abc"]
