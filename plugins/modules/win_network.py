#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The code is the action plugin of the same name (plugins/action/); this file holds its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
module: win_network
short_description: Check that a Windows VM reaches what Azure Backup needs, set the WinHTTP proxy (cause NETWORK)
version_added: 0.2.0
description:
  - From the VM, resolves the Azure names and opens TCP connections to the wireserver (ports 80 and 32526) and to the
    storage endpoint (443, and 8443 for managed disks), all at once within O(timeout), directly (not through
    WinHTTP's proxy). Each failure names the endpoint
    and how it failed (dns, refused, timeout, unreachable, blocked by a local firewall rule).
  - With O(http_proxy), first sets WinHTTP's proxy (what the agent uses) through M(ansible.windows.win_http_proxy).
  - NSG rules, routes and firewalls are platform changes, so they are reported, not changed.
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options:
  timeout:
    description:
      - Seconds all TCP connections together may take. Names are resolved first, one after the other, each within
        the resolver's own timeout.
    type: float
    default: 5
  http_proxy:
    description: The WinHTTP proxy to set, as M(ansible.windows.win_http_proxy) takes it (C(host:port)). Left alone when empty.
    type: str
    default: ""
  http_proxy_bypass:
    description: Hosts that bypass O(http_proxy). Empty clears WinHTTP's bypass list when the proxy is set.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - azure_backup.remediation.network
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.WINDOWS
  - azure_backup.remediation.attributes.FIXES
"""

EXAMPLES = r"""
- name: Check the VM's way to Azure
  azure_backup.remediation.win_network:
    storage_host: mystorageaccount.blob.core.windows.net

- name: Set the WinHTTP proxy, then check
  azure_backup.remediation.win_network:
    http_proxy: proxy.corp.example:3128
    http_proxy_bypass: ["<local>"]
"""

RETURN = r"""
findings:
  description: The checks C(dns), C(wireserver) and C(storage), and C(proxy) when O(http_proxy) is set.
  returned: always
  type: list
  elements: dict
"""
