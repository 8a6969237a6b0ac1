from __future__ import annotations

import os

import pytest

from ansible_collections.azure_backup.remediation.plugins.module_utils.causes import linux_agent_version as v

HERE = os.path.dirname(__file__)


def data(*path):
    with open(os.path.join(HERE, *path)) as handle:
        return handle.read()


@pytest.mark.parametrize("path, daemon, goal", [
    (("..", "..", "..", "data", "reference", "linux", "waagent-version-issue-2424.txt"), "2.2.45", "2.5.0.2"),
    (("..", "..", "fixtures", "waagent-version-debian12-oldagent.txt"), "2.2.47", "2.2.47"),
    (("..", "..", "fixtures", "waagent-version-rhel-2.7.3.0.txt"), "2.7.3.0", "2.7.3.0"),
])
def test_parse_real_waagent_version_outputs(path, daemon, goal):
    assert v.parse_waagent_version(data(*path)) == {"daemon": daemon, "goal_state": goal}


def test_parse_without_goal_state_line():
    assert v.parse_waagent_version("WALinuxAgent-2.2.53.1 running on rhel 8.6\r\n") == {"daemon": "2.2.53.1", "goal_state": None}


def test_parse_garbage_says_what_it_got():
    with pytest.raises(ValueError, match="WALinuxAgent-<version>"):
        v.parse_waagent_version("Traceback (most recent call last):")


@pytest.mark.parametrize("version, minimum, expected", [
    ("2.2.47", "2.2.53.1", True),
    ("2.2.53", "2.2.53.1", True),
    ("2.2.53.1", "2.2.53.1", False),
    ("2.2.53.1.0", "2.2.53.1", False),
    ("2.7.3.0", "2.2.53.1", False),
    ("2.10.0.1", "2.9.9.9", False),  # numeric, not text comparison
])
def test_older(version, minimum, expected):
    assert v.older(version, minimum) is expected


@pytest.mark.parametrize("bad", ["", "2.2.x", "v2.2", "2..2"])
def test_version_tuple_rejects(bad):
    with pytest.raises(ValueError):
        v.version_tuple(bad)


@pytest.mark.parametrize("os_release, package", [
    ({"ID": "debian"}, "waagent"),
    ({"ID": "ubuntu", "ID_LIKE": "debian"}, "walinuxagent"),
    ({"ID": "rhel", "ID_LIKE": "fedora"}, "WALinuxAgent"),
    ({"ID": "almalinux", "ID_LIKE": "rhel centos fedora"}, "WALinuxAgent"),
    ({"ID": "sles", "ID_LIKE": "suse"}, "WALinuxAgent"),
    ({"ID": "azurelinux"}, "WALinuxAgent"),
    ({"ID": "linuxmint", "ID_LIKE": "ubuntu debian"}, "walinuxagent"),
    ({"ID": "arch"}, None),
])
def test_agent_package(os_release, package):
    assert v.agent_package(os_release) == package


def test_parse_os_release_of_the_fleet_image():
    assert v.parse_os_release(data("..", "..", "fixtures", "os-release-debian12.txt"))["ID"] == "debian"
