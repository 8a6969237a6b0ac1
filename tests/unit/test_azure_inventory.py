"""inventories/azure/azure_rm.yml, checked by the azure.azcollection azure_rm plugin itself (3.12.0, as the `ansible`
12.3.0 package bundles it; tests/winsim/install-ansible-windows extracts it), never against Azure: its option
parsing and authentication step through ansible-inventory, and its host code (AzureHost, filters, hostnames,
hostvar_expressions, groups) over Compute and Network API responses written in the shape the REST API documents
(fixtures/azure_rm/compute-api-responses.json; no Azure subscription was at hand to record real ones) through
fixtures/azure_rm/offline.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from ansible_collections.azure_backup.remediation.plugins.plugin_utils import settings

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CONFIG = os.path.join(ROOT, "inventories", "azure", "azure_rm.yml")
COLLECTIONS = os.path.join(ROOT, ".collections")
FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "azure_rm")
BIN = os.path.dirname(sys.executable)
PLUGIN_DIR = os.path.join(COLLECTIONS, "ansible_collections", "azure", "azcollection")


def no_azure_env(tmp_path) -> dict:
    """This environment without any Azure credential: no AZURE_* variables, an empty home (no ~/.azure)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "ANSIBLE_AZURE_"))}
    env.update(HOME=str(tmp_path), ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_INVENTORY_UNPARSED_FAILED="1",
               PATH=BIN + os.pathsep + env.get("PATH", ""))
    return env


@pytest.fixture(scope="module")
def plugin_present():
    assert os.path.isfile(os.path.join(PLUGIN_DIR, "plugins", "inventory", "azure_rm.py")), \
        "azure.azcollection is missing from .collections: run tests/winsim/install-ansible-windows (make setup)"


@pytest.fixture(scope="module")
def inventory(plugin_present, tmp_path_factory):
    env = no_azure_env(tmp_path_factory.mktemp("home"))
    run = subprocess.run([sys.executable, os.path.join(FIXTURES, "offline.py"), CONFIG, os.path.join(FIXTURES, "compute-api-responses.json"),
                          COLLECTIONS], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_every_option_is_one_the_plugin_documents(plugin_present, tmp_path):
    # The plugin silently ignores a misspelt option; its documentation names the real ones.
    run = subprocess.run([os.path.join(BIN, "ansible-doc"), "-t", "inventory", "--json", "azure.azcollection.azure_rm"],
                         capture_output=True, text=True, env=no_azure_env(tmp_path), cwd=ROOT, timeout=120, check=True)
    options = json.loads(run.stdout)["azure.azcollection.azure_rm"]["doc"]["options"]
    with open(CONFIG) as handle:
        config = yaml.safe_load(handle)
    assert sorted(set(config) - set(options)) == []
    assert config["plugin"] == "azure.azcollection.azure_rm"


def test_ansible_inventory_gets_as_far_as_authentication(plugin_present, tmp_path):
    # The file name passes the plugin's verify_file, the options parse; with no credential it stops at AzureRMAuth
    # (auth_source auto tries the environment, ~/.azure/credentials and the Azure CLI: no network).
    run = subprocess.run([os.path.join(BIN, "ansible-inventory"), "-i", CONFIG, "--list"],
                         capture_output=True, text=True, env=no_azure_env(tmp_path), cwd=ROOT, timeout=120, check=False)
    assert run.returncode != 0
    assert "Failed to parse inventory with 'auto' plugin: Failed to get credentials." in run.stderr, run.stderr
    assert "azure_rm inventory filename must end with" not in run.stderr


def test_running_vms_grouped_by_os_and_unknown_kept_out_of_vms(inventory):
    groups = inventory["groups"]
    assert groups["linux"] == ["db-01-restored.rg-prod", "web-01.rg-prod", "web-01.rg-test"]
    # app-01-restored: made from a restored OS disk, no osProfile; the plugin takes the disk's osType.
    assert groups["windows"] == ["app-01-restored.rg-prod", "app-01.rg-prod"]
    assert groups["vms"] == sorted(groups["linux"] + groups["windows"])
    # An osProfile naming neither OS and a disk without osType: its own group, not in vms.
    assert groups["azure_os_unknown"] == ["legacy-01.rg-prod"]
    # db-02 (deallocated) and app-02 (stopped) are left out.
    assert sorted(inventory["hostvars"]) == sorted(groups["vms"] + groups["azure_os_unknown"])
    assert groups["azure_rg_rg_test"] == ["web-01.rg-test"] and groups["azure_tag_env_prod"] == ["app-01.rg-prod", "web-01.rg-prod"]


def test_connection_variables(inventory):
    hostvars = inventory["hostvars"]
    windows = hostvars["app-01-restored.rg-prod"]
    assert {k: windows[k] for k in ("ansible_host", "ansible_connection", "ansible_port", "ansible_winrm_transport",
                                    "ansible_winrm_server_cert_validation", "ansible_become", "azure_backup_os")} == {
        "ansible_host": "10.0.0.6", "ansible_connection": "winrm", "ansible_port": 5986, "ansible_winrm_transport": "ntlm",
        "ansible_winrm_server_cert_validation": "validate", "ansible_become": False, "azure_backup_os": "windows"}
    linux = hostvars["web-01.rg-test"]
    assert {k: linux[k] for k in ("ansible_host", "ansible_connection", "ansible_port", "ansible_become", "azure_backup_os")} == {
        "ansible_host": "10.1.0.4", "ansible_connection": "ssh", "ansible_port": 22, "ansible_become": True, "azure_backup_os": "linux"}
    # fix-backup.yml refuses it with a clear message if someone targets it anyway.
    assert hostvars["legacy-01.rg-prod"]["azure_backup_os"] == "unknown"


def test_the_playbook_sorts_each_host_into_its_group(inventory):
    # The OS fix-backup.yml decides (settings.host_os) is the group the inventory put the host in.
    for group in ("linux", "windows"):
        for host in inventory["groups"][group]:
            hostvars = inventory["hostvars"][host]
            assert settings.host_os(hostvars["azure_backup_os"], hostvars["ansible_connection"]) == group, host


def test_only_the_prepared_requests_were_made(inventory):
    # The VM list, then per VM its instance view and its NIC: nothing else would have gone to Azure.
    requested = inventory["requested"]
    assert requested[0] == "/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Compute/virtualMachines"
    assert len(requested) == 1 + 2 * 8
