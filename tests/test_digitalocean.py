"""DigitalOcean provisioning against the API stand-in (tests/do_standin.py).

Every request is validated against DigitalOcean's OpenAPI specification by
the stand-in; each test also asserts that no request or response broke it.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from do_standin import DOStandIn
from supermark_ops.digitalocean.api import DOClient, DOError
from supermark_ops.digitalocean.provision import ProvisionSpec, destroy, inventory, provision, validate
from supermark_ops.digitalocean.resources import ssh_key_fingerprint

PROJECT = "4e1bfbc3-dc3e-41f2-a18f-1b4d7ba71679"
PUBKEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHN1cGVybWFyay1vcHMtdGVzdC1rZXktMDEyMzQ1Njc4 op@laptop"


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
    # A and AAAA for the app (@) and files names.
    assert writes.pop("POST /v2/domains/example.com/records") == 4
    assert writes.pop(f"POST /v2/projects/{PROJECT}/resources") == 1
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
    assert len(standin.volumes) == 1, "the data volume must survive a destroy"
    assert "delete droplet supermark" in result["actions"]
    destroy(client_for(standin), spec, delete_volume=True)
    assert standin.volumes == {}
