#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The code is the action plugin of the same name (plugins/action/); this file holds its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
module: win_mars_connectivity
short_description: Check that the MARS agent reaches Azure Backup, report or set the WinHTTP proxy (cause MARS_CONNECTIVITY)
version_added: 0.2.0
description:
  - Only where the MARS agent (Microsoft Azure Recovery Services agent) is installed; elsewhere the cause is skipped.
  - From the VM, opens a TCP connection to each of O(endpoints), all at once within O(timeout), directly (not through
    WinHTTP's proxy), and names each endpoint that fails and how (dns, refused, timeout). Article 004 (ID 100050, and
    34513's proxy and firewall row) lists C(www.msftncsi.com), the wildcard domains C(*.Microsoft.com),
    C(*.WindowsAzure.com), C(*.microsoftonline.com) and C(*.windows.net), and the ranges 20.190.128.0/18 and
    40.126.0.0/18. A wildcard cannot be probed, so the defaults are concrete names under them. TLS and HTTP are not checked.
  - Firewalls, proxies, NSG rules and routes are changed outside the VM, so failures are reported, not fixed.
  - Reads the machine's WinHTTP proxy (what C(netsh winhttp show proxy) shows, which the agent's SYSTEM account uses) from
    the registry value WinHttpSettings, the same in every language, and reports it. With O(http_proxy), WinHTTP is set to
    it through M(ansible.windows.win_http_proxy) when it differs; the old setting is in the finding and the diff.
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options:
  endpoints:
    description:
      - Endpoints as C(host) (port 443) or C(host:port). No wildcards.
    type: list
    elements: str
    default: [www.msftncsi.com, login.microsoftonline.com]
  timeout:
    description: Seconds all TCP connections together may take.
    type: float
    default: 5
  http_proxy:
    description: The WinHTTP proxy the agent must use (C(host:port)). Empty reports WinHTTP's proxy and changes nothing.
    type: str
    default: ""
  http_proxy_bypass:
    description: Hosts that bypass O(http_proxy). Empty clears WinHTTP's bypass list when the proxy is set.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.WINDOWS
  - azure_backup.remediation.attributes.FIXES
"""

EXAMPLES = r"""
- name: Check the MARS agent's endpoints and report WinHTTP's proxy
  azure_backup.remediation.win_mars_connectivity:

- name: Make WinHTTP use the company proxy, then check
  azure_backup.remediation.win_mars_connectivity:
    http_proxy: proxy.corp.example:3128
    http_proxy_bypass: ["<local>"]
"""

RETURN = r"""
findings:
  description: The checks C(proxy) and C(endpoints).
  returned: always
  type: list
  elements: dict
"""
