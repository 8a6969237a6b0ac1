from __future__ import annotations

import os

import pytest

from ansible_collections.azure_backup.remediation.plugins.module_utils.linux import systemd as _systemd

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")


def captured(name):
    """`systemctl show -p ... walinuxagent.service waagent.service` captured on fleet VMs
    after `fleet break` (tests/fleet/faults.py names the fault in the file name)."""
    with open(os.path.join(FIXTURES, "systemctl-show-%s.txt" % name)) as handle:
        return handle.read()


def props(**kw):
    base = {"Id": "walinuxagent.service", "LoadState": "loaded", "ActiveState": "active", "SubState": "running",
            "UnitFileState": "enabled", "Result": "success"}
    base.update(kw)
    return base


def test_parse_show_splits_units_in_order():
    # systemd prints properties in its own order, not the order asked for.
    units = _systemd.parse_show(captured("rhel-start-limit-hit"))
    assert [u["Id"] for u in units] == ["walinuxagent.service", "waagent.service"]
    assert (units[0]["LoadState"], units[0]["UnitFileState"]) == ("not-found", "")
    assert (units[1]["ActiveState"], units[1]["Result"], units[1]["Restart"]) == ("failed", "start-limit-hit", "always")


@pytest.mark.parametrize("name, unit, plan", [
    ("debian12-running", "walinuxagent.service", []),
    ("debian12-masked", "walinuxagent.service", ["unmask", "enable", "start"]),
    ("debian12-oldagent-disabled", "walinuxagent.service", ["enable"]),
    ("rhel-start-limit-hit", "waagent.service", ["reset-failed", "start"]),
])
def test_captured_states_select_and_plan(name, unit, plan):
    chosen = _systemd.select_agent_unit(_systemd.parse_show(captured(name)))
    assert chosen["Id"] == unit
    assert _systemd.plan_running_enabled(chosen) == plan


def test_parse_show_keeps_equals_in_values_and_crlf():
    units = _systemd.parse_show("Id=a.service\r\nExecStart={ path=/usr/bin/python3 ; argv[]=/usr/bin/python3 -u x=1 }\r\n")
    assert units[0]["ExecStart"] == "{ path=/usr/bin/python3 ; argv[]=/usr/bin/python3 -u x=1 }"


@pytest.mark.parametrize("requested, expected", [
    ("auto", ["walinuxagent.service", "waagent.service"]),
    ("waagent", ["waagent.service"]),
    ("waagent.service", ["waagent.service"]),
])
def test_candidate_units(requested, expected):
    assert _systemd.candidate_units(requested) == expected


def test_select_agent_unit_none_when_neither_exists():
    units = [props(LoadState="not-found"), props(Id="waagent.service", LoadState="not-found")]
    assert _systemd.select_agent_unit(units) is None


def test_select_agent_unit_masked_unit_still_counts():
    # A masked agent is broken, not absent: it must be selected so it gets unmasked.
    units = [props(LoadState="masked", UnitFileState="masked", ActiveState="inactive"),
             props(Id="waagent.service", LoadState="not-found")]
    assert _systemd.select_agent_unit(units)["Id"] == "walinuxagent.service"


def test_select_agent_unit_prefers_the_running_one_when_both_exist():
    units = [props(ActiveState="inactive", UnitFileState="disabled"), props(Id="waagent.service")]
    assert _systemd.select_agent_unit(units)["Id"] == "waagent.service"


@pytest.mark.parametrize("state, expected", [
    (props(), []),
    (props(ActiveState="inactive", SubState="dead"), ["start"]),
    (props(UnitFileState="disabled"), ["enable"]),
    (props(ActiveState="inactive", UnitFileState="disabled"), ["enable", "start"]),
    (props(LoadState="masked", UnitFileState="masked", ActiveState="inactive"), ["unmask", "enable", "start"]),
    (props(LoadState="masked", UnitFileState="masked-runtime", ActiveState="inactive"), ["unmask-runtime", "enable", "start"]),
    (props(ActiveState="failed", SubState="failed", Result="start-limit-hit"), ["reset-failed", "start"]),
    (props(ActiveState="failed", SubState="failed", Result="signal"), ["reset-failed", "start"]),
    (props(UnitFileState="enabled-runtime"), ["enable"]),
    (props(UnitFileState="static"), []),
    (props(ActiveState="reloading"), []),
])
def test_plan_running_enabled(state, expected):
    assert _systemd.plan_running_enabled(state) == expected


def test_describe_names_a_start_limit_hit():
    text = _systemd.describe(props(ActiveState="failed", SubState="failed", Result="start-limit-hit"))
    assert text == "failed (failed), unit file enabled, last result start-limit-hit"
