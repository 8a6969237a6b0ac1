"""The small Windows decisions: network probe outcomes, snapshot settings, BitLocker."""

from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import bitlocker
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import network as winnet
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import snapshot_status as snap


def test_socket_errors_become_the_linux_words():
    probes = [
        {"endpoint": "a:80", "error_code": ""},
        {"endpoint": "a:32526", "error_code": "AccessDenied", "error": "An attempt was made to access a socket in a way forbidden by its access permissions"},
        {"endpoint": "b:443", "error_code": "TimedOut", "error": "no answer"},
        {"endpoint": "c", "error_code": "HostNotFound", "error": "No such host is known."},
        {"endpoint": "d:1", "error_code": "SomethingNew"},
    ]
    assert [(f["endpoint"], f["kind"]) for f in winnet.failures(probes)] == [
        ("a:32526", "blocked"), ("b:443", "timeout"), ("c", "dns"), ("d:1", "error")]


def test_copy_backup_wanted_and_set():
    assert snap.copy_backup_wanted([], False) is None
    assert snap.copy_backup_wanted(["MSSQLSERVER"], False) == "SQL Server is installed (MSSQLSERVER)"
    assert snap.copy_backup_wanted([], True).startswith("requested")
    assert snap.copy_backup_set({"type": "String", "data": "true"})
    assert not snap.copy_backup_set({"type": "DWord", "data": "1"})
    assert not snap.copy_backup_set({"type": "String", "data": "FALSE"})
    assert not snap.copy_backup_set(None)


def test_primary_nic_is_the_one_with_the_cheapest_default_route():
    nics = [{"alias": "a", "default_route_metric": None}, {"alias": "b", "default_route_metric": 25}, {"alias": "c", "default_route_metric": 15}]
    assert snap.primary_nic(nics)["alias"] == "c"
    assert snap.primary_nic([{"alias": "only", "default_route_metric": None}])["alias"] == "only"
    assert snap.primary_nic([{"alias": "a"}, {"alias": "b"}]) is None


def test_memory_percent_used():
    assert snap.memory_percent_used(8388608, 419430) == 95.0
    assert snap.memory_percent_used(0, 0) is None


def test_bitlocker_locked_and_protected():
    volumes = [{"mount": "C:", "protection_status": 1, "lock_status": 0}, {"mount": "F:", "protection_status": 2, "lock_status": 1},
               {"mount": "G:", "protection_status": 0, "lock_status": 0}]
    assert bitlocker.locked(volumes) == [{"volume": "F:", "protection": "unknown", "lock": "locked"}]
    assert bitlocker.protected(volumes) == [{"volume": "C:", "protection": "on", "lock": "unlocked"}]


def test_sql_instances_of_both_registry_views_once_each():
    assert snap.sql_instances({"64-bit": ["MSSQLSERVER"], "32-bit": ["SQLEXPRESS"]}) == ["MSSQLSERVER", "SQLEXPRESS (32-bit)"]
    assert snap.sql_instances({"64-bit": ["A"], "32-bit": ["A"]}) == ["A"]
    assert snap.sql_instances(None) == [] and snap.sql_instances({"32-bit": []}) == []


def _marker(**changes):
    side = {"dhcp": "Disabled", "addresses": [{"ip": "10.0.0.4", "prefix": 24, "origin": "Manual"}], "gateways": ["10.0.0.1"],
            "dns_servers": ["10.0.0.10"]}
    marker = {"netsh": {"exit_code": 0, "output": ""}, "leased": True, "lease_address": "10.0.0.4", "same_address": True, "before": side,
              "after": dict(side, dhcp="Enabled", addresses=[{"ip": "10.0.0.4", "prefix": 24, "origin": "Dhcp"}])}
    marker.update(changes)
    return marker


def test_dhcp_switch_outcome_says_what_happened():
    status, said, detail = snap.dhcp_switch_outcome(_marker())
    assert status == "fixed" and said == "switched to DHCP: 10.0.0.4 -> 10.0.0.4; DNS servers kept (10.0.0.10)"
    assert detail["after"]["addresses"] == ["10.0.0.4"] and detail["dns_kept"]
    status, said, _detail = snap.dhcp_switch_outcome(_marker(netsh={"exit_code": 1, "output": "DHCP is already enabled on this interface."}))
    assert status == "failed" and "exit code 1: DHCP is already enabled" in said
    lost = _marker(leased=False, lease_address=None, same_address=False, rollback={"exit_code": 0, "output": ""})
    lost["after"] = lost["before"]
    said = "DHCP gave no address in time, so the static configuration was put back (10.0.0.4 -> 10.0.0.4); DNS servers kept (10.0.0.10)"
    assert snap.dhcp_switch_outcome(lost)[:2] == ("failed", said)
    changed = _marker()
    changed["after"] = dict(changed["after"], dns_servers=["168.63.129.16"])
    status, said, _detail = snap.dhcp_switch_outcome(changed)
    assert status == "failed" and "DNS servers changed: 10.0.0.10 -> 168.63.129.16" in said
    status, said, _detail = snap.dhcp_switch_outcome(_marker(error="Access is denied."))
    assert status == "failed" and "stopped with an error (Access is denied.)" in said


def test_dhcp_with_another_address_is_not_a_fix():
    other = _marker(lease_address="10.0.0.7", same_address=False, rollback={"exit_code": 1, "output": "The object already exists."})
    other["after"] = dict(other["after"], addresses=[{"ip": "10.0.0.7", "prefix": 24, "origin": "Dhcp"}])
    status, said, detail = snap.dhcp_switch_outcome(other)
    assert status == "failed" and said.startswith("DHCP handed out 10.0.0.7, not 10.0.0.4")
    assert "putting the static configuration back failed (exit code 1: The object already exists.)" in said and not detail["same_address"]


def test_an_interface_with_several_addresses_is_never_switched():
    assert snap.dhcp_switch_refusal(["10.0.0.4"]) is None and snap.dhcp_switch_refusal([]) is None
    assert "2 IPv4 addresses (10.0.0.4, 10.0.0.5)" in snap.dhcp_switch_refusal(["10.0.0.4", "10.0.0.5"])
