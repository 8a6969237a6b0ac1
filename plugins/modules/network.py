#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: network
short_description: Check that a Linux VM reaches what Azure Backup needs, set the agent's proxy (cause NETWORK)
version_added: 0.1.0
description:
  - From the VM itself, checks name resolution of the Azure names, TCP to the wireserver on ports 80 and 32526,
    its C(/?comp=versions) answer and the host plugin's C(/health), and a TLS connection to the storage endpoint
    on ports 443 and 8443 (managed disks), through the agent's HTTP proxy when C(/etc/waagent.conf) names one.
  - Every failure says which endpoint and how it failed (dns, refused, timeout, unreachable, tls, http).
  - Run it as root, as the agent runs; with C(OS.EnableFirewall=y) the agent drops other users' traffic to the wireserver.
  - When O(http_proxy_host) is given, first sets C(HttpProxy.Host) and C(HttpProxy.Port) in O(config_path), editing only
    those lines (backup kept), and restarts a running agent once the file was written; the checks then go through that proxy.
    A C(waagent.conf) that cannot be written (immutable, read-only C(/etc)) is one C(failed) finding naming the reason and
    the remedy; the checks still run.
    Everything else is reported. NSG rules, routes and firewalls are platform changes.
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options:
  timeout:
    description: Seconds each connection may take.
    type: float
    default: 5
  ca_file:
    description: CA bundle to verify the storage endpoint with; the system's when not set.
    type: path
  config_path:
    description: The agent configuration, read for C(HttpProxy.Host) and C(HttpProxy.Port).
    type: path
    default: /etc/waagent.conf
  http_proxy_host:
    description: The HTTP proxy the agent must use. Set in O(config_path) when given; left alone when empty.
    type: str
    default: ""
  http_proxy_port:
    description: The port of O(http_proxy_host).
    type: int
    default: 3128
  backup:
    description: Keep a copy of O(config_path) before setting the proxy in it.
    type: bool
    default: true
extends_documentation_fragment:
  - azure_backup.remediation.protocol
  - azure_backup.remediation.network
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.LINUX
  - azure_backup.remediation.attributes.FIXES
"""

EXAMPLES = r"""
- name: Check the VM's way to Azure
  azure_backup.remediation.network:
    storage_host: mystorageaccount.blob.core.windows.net

- name: Point the agent at the proxy, then check through it
  azure_backup.remediation.network:
    storage_host: mystorageaccount.blob.core.windows.net
    http_proxy_host: proxy.corp.example
    http_proxy_port: 3128
"""

RETURN = r"""
findings:
  description:
    - The checks C(dns), C(wireserver), C(storage) and, when the agent uses one, C(proxy); with O(http_proxy_host)
      also C(config_httpproxy_host) and C(config_httpproxy_port), C(config_file) for a file that cannot be read, and
      C(agent_restart) when the agent was restarted to read the proxy.
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.cause import module_main
from ansible_collections.azure_backup.remediation.plugins.module_utils.linux.network import Network


def main() -> None:
    module_main(Network)


if __name__ == "__main__":
    main()
